import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { FlagSpec, keyValues, parseArgs, UsageError } from '../../cli/args';
import { CREATE_FLAGS, LS_FLAGS, parseCreate, parseFilters, runNetwork, type Io } from '../../cli/network';
import { checkHost, describeError, parseGlobals } from '../../cli/main';
import type { VxClient } from '../../control/client';

const specs: FlagSpec[] = [
  { names: ['-f', '--filter'], key: 'filter', kind: 'list' },
  { names: ['-q', '--quiet'], key: 'quiet', kind: 'bool' },
  { names: ['-d', '--driver'], key: 'driver', kind: 'string' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['--no-trunc'], key: 'no-trunc', kind: 'bool' },
];

describe('cli/args: parsing', () => {
  const cases: [string, string[], Record<string, unknown>, string[]][] = [
    ['nothing', [], { filter: [] }, []],
    ['long flag with a separate value', ['--format', '{{.Name}}'], { filter: [], format: '{{.Name}}' }, []],
    ['long flag with =', ['--format={{.Name}}'], { filter: [], format: '{{.Name}}' }, []],
    ['= inside the value', ['--filter=label=a=b'], { filter: ['label=a=b'] }, []],
    [
      'repeated flags collect in order',
      ['-f', 'a=1', '--filter=b=2', '-fc=3', '-fd=4'],
      { filter: ['a=1', 'b=2', 'c=3', 'd=4'] },
      [],
    ],
    ['short flag with an attached value', ['-doverlay'], { filter: [], driver: 'overlay' }, []],
    ['short flag with =value', ['-d=overlay'], { filter: [], driver: 'overlay' }, []],
    ['bundled booleans', ['-q', '--no-trunc'], { filter: [], quiet: true, 'no-trunc': true }, []],
    ['bundled booleans and a value flag last', ['-qf', 'name=x'], { filter: ['name=x'], quiet: true }, []],
    [
      'booleans with explicit values',
      ['--quiet=false', '--no-trunc=1'],
      { filter: [], quiet: false, 'no-trunc': true },
      [],
    ],
    ['flags after arguments', ['blue', '-q', 'red'], { filter: [], quiet: true }, ['blue', 'red']],
    ['-- ends flags', ['-q', '--', '-f', '--x'], { filter: [], quiet: true }, ['-f', '--x']],
    ['a lone - is an argument', ['-'], { filter: [] }, ['-']],
    ['a value may start with -', ['--format', '-x-'], { filter: [], format: '-x-' }, []],
  ];
  for (const [what, argv, flags, args] of cases) {
    it(what, () => assert.deepStrictEqual(parseArgs(argv, specs), { flags, args }));
  }

  const errors: [string[], string][] = [
    [['--nope'], 'unknown flag: --nope'],
    [['--nope=1'], 'unknown flag: --nope'],
    [['-x'], "unknown shorthand flag: 'x' in -x"],
    [['-qx'], "unknown shorthand flag: 'x' in -qx"],
    [['--format'], 'flag needs an argument: --format'],
    [['-f'], "flag needs an argument: 'f' in -f"],
    [
      ['--quiet=maybe'],
      'invalid argument "maybe" for "--quiet" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    ],
  ];
  for (const [argv, message] of errors) {
    it(`${argv.join(' ')} -> ${message} (exit 125)`, () =>
      assert.throws(
        () => parseArgs(argv, specs),
        (e: Error) => e instanceof UsageError && e.message === message && e.exitCode === 125,
      ));
  }

  it('splits key=value at the first =, the last of a key wins', () => {
    assert.deepStrictEqual(keyValues(['a=b=c', 'k', 'a=d'], 'label'), { a: 'd', k: '' });
    assert.throws(() => keyValues(['=v'], 'label'), /key before "=" is empty/);
    assert.throws(() => keyValues(['k'], 'aux-address', true), /use key=value/);
  });
  it('parses filters as Docker does', () => {
    assert.deepStrictEqual(parseFilters(['label=a=b', 'name=x', 'label!=c']), [
      { key: 'label', value: 'a=b' },
      { key: 'name', value: 'x' },
      { key: 'label!', value: 'c' },
    ]);
    assert.throws(() => parseFilters(['nofilter']), /bad format of filter \(expected name=value\): nofilter/);
  });
  it('ls takes -f as --filter', () =>
    assert.deepStrictEqual(parseArgs(['-f', 'driver=overlay', '-q'], LS_FLAGS).flags.filter, ['driver=overlay']));
});

describe('cli/network: create requests', () => {
  it('maps flags to the request', () => {
    const r = parseCreate([
      '-d',
      'overlay',
      '--ipv6',
      '--internal',
      '--attachable',
      '--label',
      'a=1',
      '--label=b',
      '-o',
      'com.docker.network.driver.mtu=1400',
      '--ipam-driver',
      'default',
      '--ipam-opt',
      'x=y',
      'blue',
    ]);
    assert.deepStrictEqual(r, {
      name: 'blue',
      driver: 'overlay',
      ipamDriver: 'default',
      ipamConfig: [],
      enableIpv6: true,
      internal: true,
      attachable: true,
      labels: { a: '1', b: '' },
      options: { 'com.docker.network.driver.mtu': '1400' },
      ipamOptions: { x: 'y' },
    });
  });
  it('leaves what was not given empty, for the agent to default', () => {
    const r = parseCreate(['blue']);
    assert.strictEqual(r.driver, '');
    assert.deepStrictEqual(r.ipamConfig, []);
    assert.deepStrictEqual(parseCreate(['--subnet', '10.1.0.0/24', 'n']).ipamConfig, [
      { subnet: '10.1.0.0/24', auxiliaryAddresses: {} },
    ]);
  });

  const pairs: [string, string[], unknown][] = [
    [
      'gateways, ranges and aux addresses go to the subnet that contains them, in any order',
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
        '--aux-address',
        's=10.2.0.9',
      ],
      [
        { subnet: '10.1.0.0/24', gateway: '10.1.0.1', auxiliaryAddresses: { r: '10.1.0.9' } },
        {
          subnet: '10.2.0.0/24',
          ipRange: '10.2.0.128/25',
          gateway: '10.2.0.254',
          auxiliaryAddresses: { s: '10.2.0.9' },
        },
      ],
    ],
    [
      'IPv4 and IPv6 subnets side by side',
      [
        '--ipv6',
        '--subnet',
        'fd00:1::/64',
        '--subnet',
        '10.9.0.0/16',
        '--gateway',
        '10.9.0.1',
        '--gateway',
        'fd00:1::1',
      ],
      [
        { subnet: 'fd00:1::/64', gateway: 'fd00:1::1', auxiliaryAddresses: {} },
        { subnet: '10.9.0.0/16', gateway: '10.9.0.1', auxiliaryAddresses: {} },
      ],
    ],
  ];
  for (const [what, argv, want] of pairs)
    it(what, () => assert.deepStrictEqual(parseCreate([...argv, 'net']).ipamConfig, want));

  const refused: [string[], string][] = [
    [
      ['--subnet', '10.1.0.0/24', '--subnet', '10.2.0.0/24', '--gateway', '10.3.0.1'],
      'no matching subnet for gateway 10.3.0.1',
    ],
    [['--subnet', '10.1.0.0/24', '--gateway', '10.3.0.1'], 'no matching subnet for gateway 10.3.0.1'],
    [['--subnet', '10.1.0.0/24', '--ip-range', '10.3.0.0/25'], 'no matching subnet for range 10.3.0.0/25'],
    [['--subnet', '10.1.0.0/24', '--aux-address', 'r=10.3.0.1'], 'no matching subnet for aux-address 10.3.0.1'],
    [['--aux-address', 'r=10.3.0.1'], 'no matching subnet for aux-address 10.3.0.1'],
    [['--gateway', '10.1.0.1'], 'every ip-range or gateway must have a corresponding subnet'],
    [
      ['--subnet', '10.1.0.0/24', '--gateway', '10.1.0.1', '--gateway', '10.1.0.2', '--subnet', '10.2.0.0/24'],
      'cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/24)',
    ],
    [
      [
        '--subnet',
        '10.1.0.0/24',
        '--subnet',
        '10.2.0.0/24',
        '--ip-range',
        '10.1.0.0/25',
        '--ip-range',
        '10.1.0.128/25',
      ],
      'cannot configure multiple ranges (10.1.0.128/25, 10.1.0.0/25) on the same subnet (10.1.0.0/24)',
    ],
    [
      ['--subnet', '10.1.0.0/16', '--subnet', '10.1.2.0/24'],
      'multiple overlapping subnet configuration is not supported',
    ],
    [['--subnet', 'nonsense', '--gateway', '10.1.0.1'], 'invalid subnet: invalid CIDR address: nonsense'],
    [['--scope', 'local'], 'scope local is not supported: vxnet networks are global'],
  ];
  for (const [argv, message] of refused) {
    it(`${argv.join(' ')} -> ${message}`, () =>
      assert.throws(
        () => parseCreate([...argv, 'net']),
        (e: Error) => e instanceof UsageError && e.message === message && e.exitCode === 1,
      ));
  }
  it('wants exactly one name (exit 1, as Docker for argument counts)', () => {
    for (const argv of [[], ['a', 'b']])
      assert.throws(
        () => parseCreate(argv),
        (e: Error) =>
          e instanceof UsageError &&
          e.message === '"vxnet network create" requires exactly 1 argument.' &&
          e.exitCode === 1,
      );
  });
  it('create knows every flag Docker users pass', () => {
    const names = CREATE_FLAGS.flatMap((f) => f.names);
    for (const n of [
      '-d',
      '--driver',
      '--subnet',
      '--gateway',
      '--ip-range',
      '--aux-address',
      '--ipv6',
      '--internal',
      '--attachable',
      '--label',
      '-o',
      '--opt',
      '--ipam-driver',
      '--ipam-opt',
    ])
      assert.ok(names.includes(n), n);
  });
});

describe('cli/main: global options and errors', () => {
  it('reads -H, --host=, VXNET_HOST and TLS files before the command', () => {
    assert.deepStrictEqual(parseGlobals(['network', 'ls'], {}), {
      host: 'unix:///run/vxnet/vxnet.sock',
      tls: {},
      rest: ['network', 'ls'],
    });
    assert.strictEqual(
      parseGlobals(['network', 'ls'], { VXNET_HOST: 'tcp://10.0.0.1:7777' }).host,
      'tcp://10.0.0.1:7777',
    );
    assert.strictEqual(
      parseGlobals(['-H', 'unix:///tmp/a.sock', 'network'], { VXNET_HOST: 'tcp://10.0.0.1:7777' }).host,
      'unix:///tmp/a.sock',
    );
    assert.strictEqual(parseGlobals(['--host=tcp://h:1', 'network'], {}).host, 'tcp://h:1');
    assert.strictEqual(parseGlobals(['-Htcp://[::1]:9', 'network'], {}).host, 'tcp://[::1]:9');
    assert.deepStrictEqual(
      parseGlobals(['-H', 'tcp://h:1', '--tlscacert', 'ca', '--tlscert=c', '--tlskey', 'k', 'version'], {}).tls,
      { ca: 'ca', cert: 'c', key: 'k' },
    );
    // Flags after the command belong to the command.
    assert.deepStrictEqual(parseGlobals(['network', 'ls', '-H', 'x'], {}).rest, ['network', 'ls', '-H', 'x']);
  });
  it('refuses bad global options', () => {
    assert.throws(() => parseGlobals(['--bogus', 'network'], {}), /unknown flag: --bogus/);
    assert.throws(() => parseGlobals(['-H'], {}), /flag needs an argument: -H/);
    assert.throws(() => parseGlobals(['--tlscert', 'c', 'network'], {}), /--tlscert and --tlskey go together/);
    for (const h of ['localhost', 'tcp://h', 'http://h:1', 'unix://'])
      assert.throws(() => checkHost(h), /invalid host/, h);
    for (const h of ['unix:///run/x.sock', '/run/x.sock', 'tcp://10.0.0.1:7777', 'tcp://agent.example:1']) checkHost(h);
  });

  const host = 'unix:///run/vxnet/vxnet.sock';
  const grpcErr = (code: number, details: string): Error => Object.assign(new Error(details), { code, details });
  const described: [string, unknown, string, number][] = [
    [
      'an answer from the agent',
      grpcErr(status.ALREADY_EXISTS, 'network with name blue already exists'),
      'Error response from agent: network with name blue already exists',
      1,
    ],
    [
      'no socket',
      grpcErr(
        status.UNAVAILABLE,
        'No connection established. Last error: Error: connect ENOENT /run/vxnet/vxnet.sock. Resolution note: ',
      ),
      `Cannot connect to the vxnet agent at ${host}. Is the agent running?`,
      1,
    ],
    [
      'refused',
      grpcErr(
        status.UNAVAILABLE,
        'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ',
      ),
      `Cannot connect to the vxnet agent at ${host}. Is the agent running?`,
      1,
    ],
    [
      'no permission',
      grpcErr(
        status.UNAVAILABLE,
        'No connection established. Last error: Error: connect EACCES /run/vxnet/vxnet.sock. Resolution note: ',
      ),
      `permission denied while trying to connect to the vxnet agent socket at ${host}`,
      1,
    ],
    [
      'another connection failure',
      grpcErr(
        status.UNAVAILABLE,
        'No connection established. Last error: Error: certificate has expired. Resolution note: ',
      ),
      `Cannot connect to the vxnet agent at ${host}: certificate has expired`,
      1,
    ],
    [
      'a flag error',
      Object.assign(new UsageError('unknown flag: --x'), { command: 'vxnet network ls' }),
      "vxnet: unknown flag: --x\nSee 'vxnet network ls --help'.",
      125,
    ],
    [
      'a refused value',
      new UsageError('no matching subnet for gateway 10.1.0.1', 1, false),
      'vxnet: no matching subnet for gateway 10.1.0.1',
      1,
    ],
    ['anything else', new Error('boom'), 'vxnet: boom', 1],
  ];
  for (const [what, err, message, code] of described)
    it(`describes ${what}`, () => assert.deepStrictEqual(describeError(err, host), { message, code }));
});

describe('cli/network: verbs against a fake client', () => {
  function fakeIo(isTTY = false, answer = ''): Io & { stdout: string; stderr: string } {
    const io = {
      stdout: '',
      stderr: '',
      isTTY,
      out: (s: string) => void (io.stdout += s),
      err: (s: string) => void (io.stderr += s),
      ask: () => Promise.resolve(answer),
    };
    return io;
  }
  const notFound = (ref: string): Error =>
    Object.assign(new Error(ref), { code: status.NOT_FOUND, details: `network ${ref} not found` });
  const client = {
    inspect: ({ network }: { network: string }) =>
      network === 'blue'
        ? Promise.resolve({
            name: 'blue',
            id: 'b'.repeat(64),
            created: '',
            scope: 'global',
            driver: 'overlay',
            enableIpv6: false,
            ipam: null,
            internal: false,
            attachable: false,
            options: {},
            labels: {},
            endpoints: [],
            vni: 1,
            mtu: 0,
          })
        : Promise.reject(notFound(network)),
    delete: ({ network }: { network: string }) =>
      network === 'blue' ? Promise.resolve({ id: 'b'.repeat(64), name: 'blue' }) : Promise.reject(notFound(network)),
    prune: () => Promise.resolve({ networksDeleted: ['a', 'b'] }),
  } as unknown as VxClient;

  it('inspect prints what it found, then one error line per missing network, exit 1', async () => {
    const io = fakeIo();
    assert.strictEqual(await runNetwork(['inspect', '-f', '{{.Name}}', 'blue', 'nope', 'gone'], () => client, io), 1);
    assert.strictEqual(io.stdout, 'blue\n');
    assert.strictEqual(io.stderr, 'Error: No such network: nope\nError: No such network: gone\n');
    const all = fakeIo();
    assert.strictEqual(await runNetwork(['inspect', 'nope'], () => client, all), 1);
    assert.strictEqual(all.stdout, '[]\n');
  });
  it('rm prints each name as given, errors per network; -f ignores missing ones', async () => {
    const io = fakeIo();
    assert.strictEqual(await runNetwork(['rm', 'blue', 'nope'], () => client, io), 1);
    assert.strictEqual(io.stdout, 'blue\n');
    assert.strictEqual(io.stderr, 'Error response from agent: network nope not found\n');
    const forced = fakeIo();
    assert.strictEqual(await runNetwork(['remove', '-f', 'nope', 'blue'], () => client, forced), 0);
    assert.strictEqual(forced.stdout, 'blue\n');
  });
  it("prune asks on a terminal, refuses without one, and prints Docker's list", async () => {
    await assert.rejects(
      runNetwork(['prune'], () => client, fakeIo(false)),
      (e: Error) => e instanceof UsageError && /use -f\/--force/.test(e.message),
    );
    const no = fakeIo(true, 'n');
    assert.strictEqual(await runNetwork(['prune'], () => client, no), 0);
    assert.strictEqual(no.stdout, '');
    const yes = fakeIo(true, 'y');
    assert.strictEqual(await runNetwork(['prune'], () => client, yes), 0);
    assert.strictEqual(yes.stdout, 'Deleted Networks:\na\nb\n');
    const forced = fakeIo(false);
    assert.strictEqual(await runNetwork(['prune', '-f', '--filter', 'label=x'], () => client, forced), 0);
    assert.strictEqual(forced.stdout, 'Deleted Networks:\na\nb\n');
  });
  it('names the command in usage errors, and bad templates fail before any call', async () => {
    await assert.rejects(
      runNetwork(['ls', '--bogus'], () => client, fakeIo()),
      (e: Error) => e instanceof UsageError && e.command === 'vxnet network ls',
    );
    await assert.rejects(
      runNetwork(
        ['list', '--format', '{{.Name'],
        () => {
          throw new Error('no call expected');
        },
        fakeIo(),
      ),
      /unclosed action/,
    );
    await assert.rejects(
      runNetwork(['connect', 'blue'], () => client, fakeIo()),
      /"vxnet network connect" requires exactly 2 arguments\./,
    );
  });
});
