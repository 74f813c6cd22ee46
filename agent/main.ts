import { AgentConfig, ConfigError, defaults, EX_CONFIG, finalize, loadConfigFile, applyValues } from './config';
import { createLogger } from '../lib/log';
import { FLAGS, flagHelp, takesNumber } from './settings';
import { Agent } from './agent';

const USAGE = `Usage: vxnet agent [--config FILE] [OPTIONS]

Runs the vxnet agent of this host: registers it in etcd, serves the API, programs the kernel.

Options (each overrides the config file's key):
  --config FILE            YAML config file (default: none)
  --check-config FILE      validate FILE and exit (0 valid, 78 invalid)
${flagHelp()}`;

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
    } else if (FLAGS.has(arg)) {
      const setting = FLAGS.get(arg)!;
      const v = next();
      if (takesNumber(setting)) {
        if (!/^\d+$/.test(v)) throw new ConfigError(`flag ${arg}: expected a whole number, got "${v}"`);
        flat[setting.yaml] = Number(v);
      } else flat[setting.yaml] = v;
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
  const log = createLogger({
    level: config.log.level,
    ...(config.log.format ? { format: config.log.format } : {}),
    base: { host: config.name },
  });
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
