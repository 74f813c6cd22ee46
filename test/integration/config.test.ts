import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI } from '../helpers/agent';
import { makePki, Pki } from '../helpers/pki';

// The config file and flags: every bad one stops the agent at start with exit 78 (EX_CONFIG) and one
// line that names the key or the file, before anything touches etcd or the kernel.
describe('agent configuration: bad files and flags exit 78 with a line naming the key or file', function () {
  this.timeout(120000);
  let dir: string;
  let pki: Pki;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-config-'));
    pki = makePki();
    pki.ca('ca');
    pki.ca('other');
    pki.leaf('ca', 'good', { ip: '127.0.0.1' });
    pki.leaf('other', 'foreign', { ip: '127.0.0.1' });
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    pki.cleanup();
  });

  const run = (args: string[]): { code: number | null; out: string } => {
    const r = spawnSync(process.execPath, [CLI, 'agent', ...args], { encoding: 'utf8', timeout: 20000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const base = 'name: h1\nvtep: 127.0.0.1\netcd:\n  endpoints: [http://127.0.0.1:2379]\n';

  it('accepts a good file (--check-config)', () => {
    const r = run([
      '--check-config',
      file(
        'good.yaml',
        `${base}vxlan_port: 8472\nlease_ttl: 10\nresync_interval: 30\napi:\n  socket: /tmp/x.sock\n  socket_mode: "0660"\nlog:\n  level: info\n  format: json\n`,
      ),
    ]);
    assert.strictEqual(r.code, 0, r.out);
    assert.match(r.out, /valid/);
  });

  const p = (n: string): string => `${pki.dir}/${n}`;
  const cases: [string, () => string[], RegExp][] = [
    ['not YAML', () => ['--config', file('a.yaml', 'name: [unclosed\n')], /not valid YAML/],
    ['a list at the top', () => ['--config', file('b.yaml', '- a\n- b\n')], /mapping/],
    ['unknown key', () => ['--config', file('c.yaml', `${base}colour: red\n`)], /unknown key "colour"/],
    ['unknown nested key', () => ['--config', file('d.yaml', `${base}api:\n  sock: /x\n`)], /unknown key "api.sock"/],
    [
      'wrong type: port as text',
      () => ['--config', file('e.yaml', `${base}vxlan_port: abc\n`)],
      /vxlan_port: expected a UDP port/,
    ],
    ['port out of range', () => ['--config', file('f.yaml', `${base}vxlan_port: 70000\n`)], /vxlan_port/],
    ['negative ttl', () => ['--config', file('g.yaml', `${base}lease_ttl: -1\n`)], /lease_ttl/],
    ['ttl too short', () => ['--config', file('h.yaml', `${base}lease_ttl: 1\n`)], /lease_ttl: must be at least 2/],
    ['bad log level', () => ['--config', file('i.yaml', `${base}log:\n  level: loud\n`)], /log.level/],
    ['bad log format', () => ['--config', file('j.yaml', `${base}log:\n  format: xml\n`)], /log.format/],
    ['bad socket mode', () => ['--config', file('k.yaml', `${base}api:\n  socket_mode: "999"\n`)], /api.socket_mode/],
    [
      'section not a mapping',
      () => ['--config', file('l.yaml', `${base.replace(/etcd:\n.*\n/, '')}etcd: 5\n`)],
      /etcd: expected a mapping/,
    ],
    [
      'endpoints not a list',
      () => ['--config', file('m.yaml', 'name: h1\nvtep: 127.0.0.1\netcd:\n  endpoints: 5\n')],
      /etcd.endpoints/,
    ],
    [
      'endpoint not a URL',
      () => ['--config', file('n.yaml', 'name: h1\nvtep: 127.0.0.1\netcd:\n  endpoints: [localhost]\n')],
      /etcd.endpoints: "localhost"/,
    ],
    ['missing vtep', () => ['--config', file('o.yaml', 'name: h1\n')], /vtep: required/],
    [
      'vtep not ours',
      () => ['--config', file('p.yaml', 'name: h1\nvtep: 203.0.113.9\n')],
      /vtep: 203.0.113.9 is not an address of this host/,
    ],
    [
      'no such vtep interface',
      () => ['--config', file('q.yaml', 'name: h1\nvtep_interface: nope0\n')],
      /vtep_interface: no interface named nope0/,
    ],
    ['bad host name', () => ['--config', file('r.yaml', 'name: "a b"\nvtep: 127.0.0.1\n')], /name: "a b"/],
    [
      'dns.domain not a domain',
      () => ['--config', file('dd.yaml', `${base}dns:\n  domain: "a b"\n`)],
      /dns.domain: "a b"/,
    ],
    [
      'dns.domain mDNS',
      () => ['--config', file('dl.yaml', `${base}dns:\n  domain: local\n`)],
      /dns.domain: "local" is mDNS/,
    ],
    [
      'dns.enabled not a boolean',
      () => ['--config', file('de.yaml', `${base}dns:\n  enabled: maybe\n`)],
      /dns.enabled: expected true or false/,
    ],
    ['config file missing', () => ['--config', path.join(dir, 'none.yaml')], /none.yaml: cannot read/],
    [
      'unreadable CA file',
      () => ['--config', file('s.yaml', `${base}  ca_file: /nonexistent/ca.pem\n`)],
      /etcd.ca_file: cannot read \/nonexistent\/ca.pem/,
    ],
    [
      'CA that is not a certificate',
      () => ['--config', file('t.yaml', `${base}  ca_file: ${file('junk.pem', 'junk')}\n`)],
      /etcd.ca_file: .* is not a PEM certificate/,
    ],
    [
      'cert without key',
      () => ['--config', file('u.yaml', `${base}  ca_file: ${p('ca.crt')}\n  cert_file: ${p('good.crt')}\n`)],
      /key_file/,
    ],
    [
      'key of another cert',
      () => [
        '--config',
        file(
          'v.yaml',
          `${base}  ca_file: ${p('ca.crt')}\n  cert_file: ${p('good.crt')}\n  key_file: ${p('foreign.key')}\n`,
        ),
      ],
      /etcd.key_file: .* does not belong/,
    ],
    [
      'CA that does not sign the cert',
      () => [
        '--config',
        file(
          'w.yaml',
          `${base}  ca_file: ${p('ca.crt')}\n  cert_file: ${p('foreign.crt')}\n  key_file: ${p('foreign.key')}\n`,
        ),
      ],
      /etcd.cert_file: .* is not signed by the CA/,
    ],
    [
      'password without user',
      () => ['--config', file('x.yaml', `${base}  password: secret\n`)],
      /etcd.username: required/,
    ],
    [
      'TCP API without TLS',
      () => ['--config', file('y.yaml', `${base}api:\n  tcp: 127.0.0.1:7000\n`)],
      /api.cert_file: required/,
    ],
    ['unknown flag', () => ['--frobnicate'], /unknown flag --frobnicate/],
    [
      'flag with a bad number',
      () => ['--config', file('z.yaml', base), '--vxlan-port', 'x'],
      /--vxlan-port: expected a whole number/,
    ],
    [
      'flag overriding with a bad value',
      () => ['--config', file('z2.yaml', base), '--log-level', 'shout'],
      /log.level/,
    ],
  ];

  for (const [what, args, msg] of cases) {
    it(`refuses ${what}`, () => {
      const r = run(args());
      assert.strictEqual(r.code, 78, `${what}: exit ${r.code}: ${r.out}`);
      assert.match(r.out, msg, what);
      assert.strictEqual(
        r.out.trim().split('\n').length <= 2 || /unknown flag/.test(r.out),
        true,
        `${what}: more than one line: ${r.out}`,
      );
    });
  }

  it('never prints a secret', () => {
    const r = run(['--config', file('secret.yaml', `${base}  username: u\n  password: hunter2\nvxlan_port: bad\n`)]);
    assert.strictEqual(r.code, 78);
    assert.doesNotMatch(r.out, /hunter2/);
  });
});
