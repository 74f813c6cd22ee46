import * as assert from 'assert';
import {
  compile,
  formatRows,
  goMap,
  goStruct,
  goTimeString,
  labelHeader,
  render,
  tabulate,
  TemplateError,
} from '../../cli/format';
import { inspectDot, inspectJson, LS_HEADERS, lsRow, naturalLess } from '../../cli/render';
import { lsTemplate, renderInspect, renderLs } from '../../cli/network';
import type { Network__Output } from '../../control/generated/vxnet/v1/Network';

const ID = '3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a';

function net(over: Partial<Network__Output> = {}): Network__Output {
  return {
    name: 'blue',
    id: ID,
    created: '2024-05-06T07:08:09.120000000Z',
    scope: 'global',
    driver: 'overlay',
    enableIpv6: false,
    ipam: {
      driver: 'default',
      options: {},
      config: [
        { subnet: '10.1.0.0/24', ipRange: '', gateway: '10.1.0.1', auxiliaryAddresses: {} },
        {
          subnet: '10.2.0.0/24',
          ipRange: '10.2.0.128/25',
          gateway: '10.2.0.1',
          auxiliaryAddresses: { router: '10.2.0.2' },
        },
      ],
    },
    internal: false,
    attachable: true,
    options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' },
    labels: { team: 'net', 'com.example.cost-center': '42' },
    endpoints: [
      {
        name: 'web',
        endpointId: 'e1',
        macAddress: '02:42:0a:01:00:02',
        ipv4Address: '10.1.0.2/24',
        ipv6Address: '',
        host: 'h1',
        sandbox: '/run/netns/web',
        interfaceName: 'eth0',
        aliases: [],
        dockerNetworkId: '',
        dockerEndpointId: '',
        cniContainerId: '',
      },
      {
        name: 'db',
        endpointId: 'e2',
        macAddress: '02:42:0a:01:00:03',
        ipv4Address: '10.1.0.3/24',
        ipv6Address: '',
        host: 'h2',
        sandbox: '/run/netns/db',
        interfaceName: 'eth0',
        aliases: ['pg'],
        dockerNetworkId: 'd1',
        dockerEndpointId: 'de2',
        cniContainerId: '',
      },
    ],
    vni: 4097,
    mtu: 0,
    stale: '',
    ...over,
  };
}

describe('cli/format: templates on `network inspect`', () => {
  const dot = inspectDot(net());
  const cases: [string, string][] = [
    ['{{.Name}}', 'blue'],
    ['{{.Id}}', ID],
    ['{{.ID}}', ID], // Docker's Go field name works too
    ['{{ .Name }}/{{.Driver}}/{{.Scope}}', 'blue/overlay/global'],
    ['{{.IPAM.Driver}}', 'default'],
    ['{{range .IPAM.Config}}{{.Subnet}} {{end}}', '10.1.0.0/24 10.2.0.0/24 '],
    ['{{range .IPAM.Config}}[{{.IPRange}}]{{end}}', '[][10.2.0.128/25]'], // omitted from JSON, still a field
    ['{{(index .IPAM.Config 1).Gateway}}', '10.2.0.1'],
    ['{{range $i, $c := .IPAM.Config}}{{$i}}={{$c.Subnet}};{{end}}', '0=10.1.0.0/24;1=10.2.0.0/24;'],
    ['{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}', 'com.example.cost-center=42,team=net,'],
    ['{{range .Containers}}{{.Name}}:{{.IPv4Address}} {{end}}', 'web:10.1.0.2/24 db:10.1.0.3/24 '],
    ['{{range .Containers}}{{.Name}}{{if .Aliases}}({{join .Aliases ","}}){{end}} {{end}}', 'web db(pg) '],
    ['{{index .Labels "team"}}', 'net'],
    ['{{index .Labels "nope"}}', ''],
    ['{{.Labels.team}}', 'net'],
    ['{{.Labels.nope}}', '<no value>'],
    ['{{.Labels}}', 'map[com.example.cost-center:42 team:net]'],
    ['{{json .Labels}}', '{"team":"net","com.example.cost-center":"42"}'],
    [
      '{{json .IPAM.Config}}',
      '[{"Subnet":"10.1.0.0/24","Gateway":"10.1.0.1"},{"Subnet":"10.2.0.0/24","IPRange":"10.2.0.128/25","Gateway":"10.2.0.1","AuxiliaryAddresses":{"router":"10.2.0.2"}}]',
    ],
    ['{{.IPAM.Config}}', '[{10.1.0.0/24  10.1.0.1 map[]} {10.2.0.0/24 10.2.0.128/25 10.2.0.1 map[router:10.2.0.2]}]'],
    ['{{.Created}}', '2024-05-06 07:08:09.12 +0000 UTC'],
    ['{{json .Created}}', '"2024-05-06T07:08:09.120000000Z"'],
    ['{{.Internal}} {{.Attachable}} {{.EnableIPv6}}', 'false true false'],
    ['{{if .Internal}}internal{{else if .Attachable}}attachable{{else}}plain{{end}}', 'attachable'],
    ['{{if not .Internal}}open{{end}}', 'open'],
    ['{{if and .Attachable (eq .Driver "overlay")}}ok{{end}}', 'ok'],
    ['{{if eq .Scope "local" "global"}}one of{{end}}', 'one of'],
    ['{{with .IPAM}}{{.Driver}}{{end}}', 'default'],
    ['{{range .IPAM.Options}}x{{else}}none{{end}}', 'none'],
    ['{{len .Containers}} {{len .IPAM.Config}} {{len .Name}}', '2 2 4'],
    ['{{.Name | upper}} {{.Name | printf "%-6s|"}} {{printf "%q %d" .Name 7}}', 'BLUE blue  | "blue" 7'],
    ['{{$n := .Name}}{{range .Containers}}{{$n}}/{{.Name}} {{end}}', 'blue/web blue/db '],
    ['{{range .Containers}}{{$.Name}}{{end}}', 'blueblue'],
    [
      '{{title "web server"}} {{lower "AB"}} {{truncate .Id 12}} {{split "a,b" ","}} [{{pad "x" 1 2}}]',
      'Web Server ab 3f1c2a9b8d7e [a b] [ x  ]',
    ],
    ['{{/* a comment */}}x', 'x'],
    ['a {{- " b " -}} c', 'a b c'],
    ['{{"x\\ty"}}', 'x\ty'],
    ['a\\tb\\nc', 'a\tb\nc'], // Docker's \t and \n escapes in --format
    ['{{println .Name}}', 'blue\n'],
  ];
  for (const [tpl, want] of cases)
    it(`${tpl} -> ${JSON.stringify(want)}`, () => assert.strictEqual(compile(tpl)(dot), want));

  const errors: [string, RegExp][] = [
    ['{{.Foo}}', /^template: :1:2: executing "" at <\.Foo>: can't evaluate field Foo$/],
    ['{{.IPAM.Nope}}', /at <\.IPAM\.Nope>: can't evaluate field Nope/],
    ['x\n{{.Foo}}', /^template: :2:2: /],
    ['{{range .IPAM.Config}}', /unexpected EOF/],
    ['{{end}}', /unexpected \{\{end\}\}/],
    ['{{.Name', /unclosed action/],
    ['{{nosuch .Name}}', /function "nosuch" not defined/],
    ['{{.Name "x"}}', /can't give argument to non-function \.Name/],
    ['{{$x}}', /undefined variable "\$x"/],
    ['{{range .Name}}x{{end}}', /range can't iterate over blue/],
  ];
  for (const [tpl, re] of errors) {
    it(`${JSON.stringify(tpl)} fails: ${String(re)}`, () =>
      assert.throws(
        () => compile(tpl)(dot),
        (e: Error) => e instanceof TemplateError && re.test(e.message),
      ));
  }
});

describe('cli/format: `network ls` rows, tables and output modes', () => {
  const row = lsRow(net(), false);
  const cases: [string, string][] = [
    ['{{.ID}}', ID.slice(0, 12)],
    ['{{.Name}} {{.Driver}} {{.Scope}}', 'blue overlay global'],
    ['{{.IPv6}} {{.Internal}}', 'false false'],
    ['{{.Labels}}', 'com.example.cost-center=42,team=net'],
    ['{{.Label "team"}}', 'net'],
    ['{{.Label "none"}}', ''],
    ['{{.CreatedAt}}', '2024-05-06 07:08:09.12 +0000 UTC'],
    [
      '{{json .}}',
      `{"CreatedAt":"2024-05-06 07:08:09.12 +0000 UTC","Driver":"overlay","ID":"${ID.slice(0, 12)}","IPv6":"false","Internal":"false","Labels":"com.example.cost-center=42,team=net","Name":"blue","Scope":"global"}`,
    ],
  ];
  for (const [tpl, want] of cases)
    it(`${tpl} -> ${JSON.stringify(want)}`, () => assert.strictEqual(compile(tpl)(row), want));
  it('--no-trunc keeps the full ID', () => assert.strictEqual(compile('{{.ID}}')(lsRow(net(), true)), ID));

  const nets = [
    net({ name: 'net10', id: `b${ID.slice(1)}` }),
    net({ name: 'net2', id: `a${ID.slice(1)}` }),
    net({ name: 'a-much-longer-name', id: `c${ID.slice(1)}` }),
  ];
  const outputs: [string, string, boolean, string][] = [
    [
      'default table, sorted by name in natural order',
      '',
      false,
      'NETWORK ID     NAME                 DRIVER    SCOPE\n' +
        'cf1c2a9b8d7e   a-much-longer-name   overlay   global\n' +
        'af1c2a9b8d7e   net2                 overlay   global\n' +
        'bf1c2a9b8d7e   net10                overlay   global\n',
    ],
    ['-q prints IDs', '', true, 'cf1c2a9b8d7e\naf1c2a9b8d7e\nbf1c2a9b8d7e\n'],
    ['"table" is the default table, -q still applies', 'table', true, 'cf1c2a9b8d7e\naf1c2a9b8d7e\nbf1c2a9b8d7e\n'],
    ['a custom template wins over -q', '{{.Name}}', true, 'a-much-longer-name\nnet2\nnet10\n'],
    [
      "table with a label column: the header is the label name's last part",
      'table {{.Name}}\t{{.Label "com.example.cost-center"}}',
      false,
      'NAME                 cost center\na-much-longer-name   42\nnet2                 42\nnet10                42\n',
    ],
    [
      'table columns get at least 10 characters plus 3 of padding',
      'table {{.Driver}}\t{{.IPv6}}\t{{.Scope}}',
      false,
      'DRIVER    IPV6      SCOPE\noverlay   false     global\noverlay   false     global\noverlay   false     global\n',
    ],
  ];
  for (const [what, format, quiet, want] of outputs)
    it(what, () => assert.strictEqual(renderLs(nets, format, quiet, false), want));
  it('json is one object per line', () => {
    const lines = renderLs(nets, 'json', false, false).trimEnd().split('\n');
    assert.deepStrictEqual(
      lines.map((l) => (JSON.parse(l) as { Name: string }).Name),
      ['a-much-longer-name', 'net2', 'net10'],
    );
  });
  it('an empty list still prints the table header', () =>
    assert.strictEqual(renderLs([], '', false, false), 'NETWORK ID   NAME      DRIVER    SCOPE\n'));
  // As in Docker, .Internal is the string "false", which is true for `if`.
  it('a template that prints nothing still ends its line, as Docker', () =>
    assert.strictEqual(formatRows('{{if eq .Internal "true"}}x{{end}}', [row, row], LS_HEADERS), '\n\n'));
  it('table headers name fields that have none by upper-casing them', () => {
    assert.strictEqual(
      formatRows('table {{.Name}}\t{{.Extra}}', [{ Name: 'n', Extra: 'e' }], { Name: 'NAME' }),
      'NAME      EXTRA\nn         e\n',
    );
  });
  it("lsTemplate follows Docker's NewFormat", () => {
    assert.strictEqual(lsTemplate('', false), 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}');
    assert.strictEqual(lsTemplate('', true), '{{.ID}}');
    assert.strictEqual(lsTemplate('json', true), '{{json .}}');
    assert.strictEqual(lsTemplate('raw', true), 'network_id: {{.ID}}');
    assert.strictEqual(lsTemplate('{{.Name}}', true), '{{.Name}}');
  });
});

describe("cli/render: inspect JSON shaped like Docker's", () => {
  it("has Docker's keys in Docker's order, empty optional fields left out", () => {
    const j = inspectJson(net());
    assert.deepStrictEqual(Object.keys(j), [
      'Name',
      'Id',
      'Created',
      'Scope',
      'Driver',
      'EnableIPv6',
      'IPAM',
      'Internal',
      'Attachable',
      'Ingress',
      'ConfigFrom',
      'ConfigOnly',
      'Containers',
      'Options',
      'Labels',
    ]);
    assert.strictEqual(j.Created, '2024-05-06T07:08:09.120000000Z');
    assert.deepStrictEqual(j.IPAM, {
      Driver: 'default',
      Options: {},
      Config: [
        { Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' },
        {
          Subnet: '10.2.0.0/24',
          IPRange: '10.2.0.128/25',
          Gateway: '10.2.0.1',
          AuxiliaryAddresses: { router: '10.2.0.2' },
        },
      ],
    });
    assert.deepStrictEqual(j.ConfigFrom, { Network: '' });
    assert.deepStrictEqual((j.Containers as Record<string, unknown>).e1, {
      Name: 'web',
      EndpointID: 'e1',
      MacAddress: '02:42:0a:01:00:02',
      IPv4Address: '10.1.0.2/24',
      IPv6Address: '',
      Host: 'h1',
      Sandbox: '/run/netns/web',
      InterfaceName: 'eth0',
    });
    assert.deepStrictEqual((j.Containers as Record<string, { Aliases?: string[] }>).e2.Aliases, ['pg']);
  });
  it('prints an indented array, 4 spaces, and [] for nothing', () => {
    const out = renderInspect([net()], '');
    assert.ok(out.startsWith('[\n    {\n        "Name": "blue",\n        "Id": "'));
    assert.strictEqual(renderInspect([], ''), '[]\n');
    assert.strictEqual(renderInspect([], 'json'), '[]\n');
    assert.strictEqual(renderInspect([net(), net({ name: 'red' })], '{{.Name}}'), 'blue\nred\n');
  });
  it('a template sees {{json .}} as the JSON object', () => {
    assert.deepStrictEqual(JSON.parse(compile('{{json .}}')(inspectDot(net()))), inspectJson(net()));
  });
});

describe('cli/format: helpers', () => {
  it('prints Go values', () => {
    assert.strictEqual(render([1, 'a']), '[1 a]');
    assert.strictEqual(render(undefined), '<no value>');
    assert.strictEqual(render([null]), '[<nil>]');
    assert.strictEqual(render(goMap({ b: 1, a: 2 })), 'map[a:2 b:1]');
    assert.strictEqual(render(goStruct({ b: 1, a: '' })), '{1 }');
    assert.strictEqual(render({ b: 1, a: 2 }), 'map[a:2 b:1]');
  });
  it('converts RFC 3339 times to Go time strings', () => {
    assert.strictEqual(goTimeString('2024-01-15T10:20:30Z'), '2024-01-15 10:20:30 +0000 UTC');
    assert.strictEqual(goTimeString('2024-01-15T10:20:30.123456789Z'), '2024-01-15 10:20:30.123456789 +0000 UTC');
    assert.strictEqual(goTimeString('2024-01-15T10:20:30.5+02:00'), '2024-01-15 10:20:30.5 +0200 +0200');
    assert.strictEqual(goTimeString('not a time'), 'not a time');
  });
  it('names label columns as Docker does', () => {
    assert.strictEqual(labelHeader('com.example.team_name'), 'team name');
    assert.strictEqual(labelHeader('team'), 'team');
  });
  it("aligns like Docker's tabwriter", () => {
    assert.strictEqual(
      tabulate([
        ['a', 'b', 'c'],
        ['aaaaaaaaaaaa', 'b', 'c'],
      ]),
      'a              b         c\naaaaaaaaaaaa   b         c',
    );
  });
  it('sorts names naturally', () => {
    assert.deepStrictEqual(['n10', 'n2', 'a', 'n1', 'b1x'].sort(naturalLess), ['a', 'b1x', 'n1', 'n2', 'n10']);
  });
});
