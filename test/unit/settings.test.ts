import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyValues, defaults, loadConfigFile } from '../../agent/config';
import type { AgentConfig } from '../../agent/config';
import { parseAgentArgs } from '../../agent/main';
import { configPath, FLAGS, flagHelp, SECTIONS, SETTINGS, takesNumber } from '../../agent/settings';
import type { Setting } from '../../agent/settings';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const EXAMPLE = path.join(ROOT, 'deploy', 'agent.yaml');

// The keys deploy/agent.yaml names, set or commented out ("# key: value", "  # key: value").
function documentedKeys(text: string): Set<string> {
  const keys = new Set<string>();
  let section: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^(\s*)# ?/, '$1');
    const m = /^(\s*)([a-z_]+):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1].length === 0) {
      section = SECTIONS.has(m[2]) && /^\s*(#.*)?$/.test(m[3]) ? m[2] : undefined;
      if (!section) keys.add(m[2]);
    } else if (section) keys.add(`${section}.${m[2]}`);
  }
  return keys;
}

const get = (cfg: AgentConfig, key: string): unknown =>
  configPath(key).reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], cfg);

describe('agent settings: one table for the schema, the flags, --help and the example file', () => {
  it('deploy/agent.yaml documents every key', () => {
    const documented = documentedKeys(fs.readFileSync(EXAMPLE, 'utf8'));
    const missing = SETTINGS.map((s) => s.yaml).filter((k) => !documented.has(k));
    assert.deepStrictEqual(missing, []);
  });

  it('deploy/agent.yaml sets only known keys, each with a value of its kind', () => {
    assert.doesNotThrow(() => loadConfigFile(EXAMPLE));
  });

  it('the defaults are the documented ones', () => {
    assert.deepStrictEqual(defaults(), {
      name: os.hostname(),
      vtep: '',
      vtepInterface: '',
      vxlanPort: 4789,
      underlayMtu: 0,
      etcd: {
        endpoints: ['http://127.0.0.1:2379'],
        caFile: '',
        certFile: '',
        keyFile: '',
        username: '',
        password: '',
        timeoutMs: 5000,
      },
      leaseTtl: 10,
      deadHostTimeout: 0,
      resyncInterval: 30,
      ipForward: 'auto',
      api: {
        socket: '/run/vxnet/vxnet.sock',
        socketMode: 0o600,
        socketGroup: '',
        tcp: '',
        certFile: '',
        keyFile: '',
        clientCaFile: '',
      },
      log: { level: 'info', format: '' },
      metrics: { listen: '' },
      cni: { socket: '' },
      docker: { enabled: 'auto', socket: '/run/docker/plugins/vxnet.sock', scope: 'local' },
      dns: {
        enabled: 'true',
        domain: 'vxnet',
        ttl: 2,
        port: 53,
        socket: '',
        resolvConf: '/etc/resolv.conf',
        upstreams: [],
        upstreamTimeoutMs: 1000,
        cacheSize: 10000,
        maxInFlight: 65536,
      },
    });
  });

  it('defaults() hands out fresh lists', () => {
    defaults().etcd.endpoints.push('http://elsewhere:2379');
    assert.deepStrictEqual(defaults().etcd.endpoints, ['http://127.0.0.1:2379']);
  });

  it('keys and flags are unique, and --help lists every flag with its key', () => {
    const rows: readonly Setting[] = SETTINGS;
    assert.strictEqual(new Set(rows.map((s) => s.yaml)).size, rows.length);
    const flagged = rows.filter((s) => s.flag);
    assert.strictEqual(FLAGS.size, flagged.length);
    const help = flagHelp();
    for (const s of flagged)
      assert.match(help, new RegExp(`^  ${s.flag!.name} .*\\(${s.yaml.replace('.', '\\.')}\\)$`, 'm'), s.yaml);
    for (const s of rows.filter((r) => !r.flag))
      assert.ok(help.includes(s.yaml), `${s.yaml} (file only) is not in --help`);
  });

  it('every flag sets the key it names, and only that key', () => {
    const sample: Record<Setting['kind'], string> = {
      string: 'x',
      port: '8472',
      uint: '7',
      strings: 'http://a:1,http://b:2',
      mode: '0640',
      level: 'debug',
      format: 'text',
      auto: 'true',
      scope: 'global',
      bool: 'false',
      forward: 'manual',
    };
    for (const [flag, s] of FLAGS) {
      const { config } = parseAgentArgs([flag, sample[s.kind]]);
      const want = defaults();
      applyValues(want, { [s.yaml]: takesNumber(s) ? Number(sample[s.kind]) : sample[s.kind] }, 'flag');
      assert.deepStrictEqual(config, want, flag);
      assert.notDeepStrictEqual(get(config, s.yaml), get(defaults(), s.yaml), `${flag} changed nothing`);
    }
  });
});
