import * as assert from 'assert';
import { compile, formatRows, render, TemplateError } from '../../cli/format';
import { keyValues, parseArgs, UsageError } from '../../cli/args';
import { buildCreateRequest, parseFilters } from '../../cli/network';
import { LS_DEFAULT, LS_HEADERS } from '../../cli/render';

describe('CLI --format (pure)', () => {
  const dot = {
    Name: 'blue',
    ID: 'abc',
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24' }, { Subnet: 'fd00::/64' }] },
    Labels: { b: '2', a: '1' },
    Internal: false,
    Label: (k: string) => (({ a: '1' }) as Record<string, string>)[k] ?? '',
  };
  const cases: [string, string][] = [
    ['{{.Name}}', 'blue'],
    ['{{ .Name }}-{{.ID}}', 'blue-abc'],
    ['{{.IPAM.Driver}}', 'default'],
    ['{{range .IPAM.Config}}{{.Subnet}} {{end}}', '10.1.0.0/24 fd00::/64 '],
    ['{{json .Labels}}', '{"b":"2","a":"1"}'],
    ['{{.Labels}}', 'map[a:1 b:2]'],
    ['{{index .Labels "b"}}', '2'],
    ['{{.Label "a"}}', '1'],
    ['{{.Internal}}', 'false'],
    ['{{if .Internal}}yes{{else}}no{{end}}', 'no'],
    ['{{len .IPAM.Config}}', '2'],
    ['{{"x\\ty"}}', 'x\ty'],
    ['a\\tb', 'a\tb'],
  ];
  for (const [tpl, want] of cases)
    it(`${tpl} -> ${JSON.stringify(want)}`, () => assert.strictEqual(compile(tpl)(dot), want));
  it('names an unknown field like Go does', () =>
    assert.throws(
      () => compile('{{.Nope}}')(dot),
      (e: Error) => e instanceof TemplateError && /can't evaluate field Nope/.test(e.message),
    ));
  it('refuses an unterminated range', () => assert.throws(() => compile('{{range .X}}'), TemplateError));
  it('renders tables with Docker headers and alignment', () => {
    const rows = [
      { ID: '0123456789ab', Name: 'blue', Driver: 'overlay', Scope: 'global' },
      { ID: 'ba9876543210', Name: 'a-longer-name', Driver: 'overlay', Scope: 'global' },
    ];
    const out = formatRows(LS_DEFAULT, rows, LS_HEADERS).split('\n');
    assert.strictEqual(out[0], 'NETWORK ID     NAME            DRIVER    SCOPE');
    assert.strictEqual(out[1], '0123456789ab   blue            overlay   global');
    assert.strictEqual(formatRows('{{.Name}}', rows, LS_HEADERS), 'blue\na-longer-name\n');
  });
  it('prints values as Go does', () => {
    assert.strictEqual(render([1, 'a']), '[1 a]');
    assert.strictEqual(render(undefined), '<no value>');
  });
});

describe('CLI arguments (pure)', () => {
  const specs = [
    { names: ['-f', '--filter'], key: 'filter', kind: 'list' as const },
    { names: ['-q', '--quiet'], key: 'quiet', kind: 'bool' as const },
    { names: ['--format'], key: 'format', kind: 'string' as const },
  ];
  it('parses long, short, = and repeated flags', () => {
    const p = parseArgs(['-f', 'a=1', '--filter=b=2', '-fc=3', '-q', '--format', '{{.Name}}', 'x'], specs);
    assert.deepStrictEqual(p.flags.filter, ['a=1', 'b=2', 'c=3']);
    assert.strictEqual(p.flags.quiet, true);
    assert.strictEqual(p.flags.format, '{{.Name}}');
    assert.deepStrictEqual(p.args, ['x']);
  });
  it('refuses unknown flags and missing values', () => {
    assert.throws(
      () => parseArgs(['--nope'], specs),
      (e: Error) => e instanceof UsageError && /unknown flag: --nope/.test(e.message),
    );
    assert.throws(() => parseArgs(['--format'], specs), /needs an argument/);
  });
  it('splits key=value at the first =', () => {
    assert.deepStrictEqual(keyValues(['a=b=c', 'k'], 'label'), { a: 'b=c', k: '' });
    assert.throws(() => keyValues(['=v'], 'label'), /key before "=" is empty/);
    assert.throws(() => parseFilters(['nofilter']), /expected name=value/);
  });
  it('pairs gateways, ranges and aux addresses with their subnets by containment', () => {
    const p = parseArgs(
      [
        '--subnet',
        '10.1.0.0/24',
        '--subnet',
        '10.2.0.0/24',
        '--gateway',
        '10.2.0.254',
        '--gateway',
        '10.1.0.1',
        '--ip-range',
        '10.2.0.128/25',
        '--aux-address',
        'r=10.1.0.9',
        'net',
      ],
      [
        { names: ['--subnet'], key: 'subnet', kind: 'list' },
        { names: ['--gateway'], key: 'gateway', kind: 'list' },
        { names: ['--ip-range'], key: 'ip-range', kind: 'list' },
        { names: ['--aux-address'], key: 'aux-address', kind: 'list' },
      ],
    );
    const r = buildCreateRequest(p);
    assert.deepStrictEqual(r.ipamConfig, [
      { subnet: '10.1.0.0/24', gateway: '10.1.0.1', auxiliaryAddresses: { r: '10.1.0.9' } },
      { subnet: '10.2.0.0/24', gateway: '10.2.0.254', ipRange: '10.2.0.128/25', auxiliaryAddresses: {} },
    ]);
    const q = parseArgs(
      ['--subnet', '10.1.0.0/24', '--subnet', '10.2.0.0/24', '--gateway', '10.3.0.1', 'n'],
      [
        { names: ['--subnet'], key: 'subnet', kind: 'list' },
        { names: ['--gateway'], key: 'gateway', kind: 'list' },
      ],
    );
    assert.throws(() => buildCreateRequest(q), /no matching subnet for gateway 10.3.0.1/);
  });
});
