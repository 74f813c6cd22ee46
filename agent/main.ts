import { AgentConfig, ConfigError, defaults, EX_CONFIG, finalize, loadConfigFile, applyValues } from './config';
import { createLogger } from '../lib/log';
import { Agent } from './agent';

const USAGE = `Usage: vxnet agent [--config FILE] [OPTIONS]

Runs the vxnet agent of this host: registers it in etcd, serves the API, programs the kernel.

Options (each overrides the config file's key):
  --config FILE            YAML config file (default: none)
  --check-config FILE      validate FILE and exit (0 valid, 78 invalid)
  --name NAME              host name                              (name)
  --vtep IP                underlay address of this host          (vtep)
  --vtep-interface IF      take the VTEP address from IF          (vtep_interface)
  --vxlan-port N           VXLAN UDP port, 4789 (flannel: 8472)   (vxlan_port)
  --underlay-mtu N         underlay MTU, detected if unset        (underlay_mtu)
  --etcd URLS              etcd endpoints, comma-separated        (etcd.endpoints)
  --socket PATH            API unix socket                        (api.socket)
  --tcp HOST:PORT          also serve the API on TCP, mTLS only   (api.tcp)
  --tls-cert FILE          server certificate for --tcp           (api.cert_file)
  --tls-key FILE           server key for --tcp                   (api.key_file)
  --tls-client-ca FILE     CA that signs client certificates      (api.client_ca_file)
  --lease-ttl SECONDS      host lease TTL                         (lease_ttl)
  --resync-interval SECS   periodic full reconcile                (resync_interval)
  --log-level LEVEL        debug, info, warn, error               (log.level)
  --log-format FORMAT      json or text                           (log.format)
  --metrics HOST:PORT      serve /metrics, /healthz and /readyz   (metrics.listen)
  --cni-socket PATH        socket of the CNI plugin's shim        (cni.socket)
  --docker auto|true|false serve the Docker network/IPAM plugin   (docker.enabled)
  --docker-socket PATH     the plugin's socket                    (docker.socket)
  --docker-scope SCOPE     local or global (dockerd --cluster-store) (docker.scope)
  --etcd-cafile FILE       CA of the etcd servers                 (etcd.ca_file)
  --etcd-certfile FILE     client certificate for etcd            (etcd.cert_file)
  --etcd-keyfile FILE      its key                                (etcd.key_file)
  --etcd-user NAME         etcd user (the password only in the file: etcd.password)
`;

const FLAGS: Record<string, [string, 'string' | 'number']> = {
  '--name': ['name', 'string'],
  '--vtep': ['vtep', 'string'],
  '--vtep-interface': ['vtep_interface', 'string'],
  '--vxlan-port': ['vxlan_port', 'number'],
  '--underlay-mtu': ['underlay_mtu', 'number'],
  '--etcd': ['etcd.endpoints', 'string'],
  '--socket': ['api.socket', 'string'],
  '--tcp': ['api.tcp', 'string'],
  '--tls-cert': ['api.cert_file', 'string'],
  '--tls-key': ['api.key_file', 'string'],
  '--tls-client-ca': ['api.client_ca_file', 'string'],
  '--lease-ttl': ['lease_ttl', 'number'],
  '--resync-interval': ['resync_interval', 'number'],
  '--log-level': ['log.level', 'string'],
  '--log-format': ['log.format', 'string'],
  '--metrics': ['metrics.listen', 'string'],
  '--cni-socket': ['cni.socket', 'string'],
  '--docker': ['docker.enabled', 'string'],
  '--docker-socket': ['docker.socket', 'string'],
  '--docker-scope': ['docker.scope', 'string'],
  '--etcd-cafile': ['etcd.ca_file', 'string'],
  '--etcd-certfile': ['etcd.cert_file', 'string'],
  '--etcd-keyfile': ['etcd.key_file', 'string'],
  '--etcd-user': ['etcd.username', 'string'],
};

export function parseAgentArgs(argv: string[]): { config: AgentConfig; checkOnly: boolean } {
  let file: string | undefined;
  let checkOnly = false;
  const flat: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`flag ${arg} needs a value`);
      return v;
    };
    if (arg === '--config') file = next();
    else if (arg === '--check-config') {
      file = next();
      checkOnly = true;
    } else if (FLAGS[arg]) {
      const [key, kind] = FLAGS[arg];
      const v = next();
      if (kind === 'number') {
        if (!/^\d+$/.test(v)) throw new ConfigError(`flag ${arg}: expected a whole number, got "${v}"`);
        flat[key] = Number(v);
      } else flat[key] = v;
    } else throw new ConfigError(`unknown flag ${arg}\n${USAGE}`);
  }
  const config = file ? loadConfigFile(file, defaults()) : defaults();
  applyValues(config, flat, 'flag');
  return { config, checkOnly };
}

// grpc-js sets the TLS server name to the address when etcd is named by IP (a certificate with an
// IP SAN is normal for etcd); Node warns about that on every connection. Other warnings stay.
function quietTlsServernameWarning(): void {
  const handlers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code !== 'DEP0123') for (const h of handlers) h(w);
  });
}

export async function runAgent(argv: string[]): Promise<number> {
  quietTlsServernameWarning();
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: AgentConfig;
  let checkOnly: boolean;
  try {
    ({ config, checkOnly } = parseAgentArgs(argv));
    finalize(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vxnet agent: invalid configuration: ${err.message}\n`);
      return EX_CONFIG;
    }
    throw err;
  }
  if (checkOnly) {
    process.stdout.write('configuration is valid\n');
    return 0;
  }
  const log = createLogger({ level: config.log.level, ...(config.log.format ? { format: config.log.format } : {}), base: { host: config.name } });
  const agent = new Agent(config, log);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('stopping; the data plane stays in place', { signal });
    const force = setTimeout(() => {
      log.warn('graceful stop timed out, exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    agent.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('error while stopping', { error: err.message });
        process.exit(1);
      },
    );
  };
  // SIGHUP: resync now (re-read etcd and the kernel and repair), as after `vxnet doctor` shows drift.
  process.on('SIGHUP', () => {
    log.info('SIGHUP: full resync');
    void agent.resync();
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await agent.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vxnet agent: ${err.message}\n`);
      return EX_CONFIG;
    }
    log.error('agent failed to start', { error: (err as Error).message });
    return 1;
  }
  return new Promise<number>(() => undefined); // runs until a signal
}
