import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import type * as YAMLModule from 'yaml';
import type { Level } from '../lib/log';
import { configPath, SECTIONS, SETTING_KEYS, SETTINGS, settingOf } from './settings';
import type { Kind, Setting } from './settings';
import type { CheckedConfig } from './settings-check';

// The agent's configuration: one YAML file, every key overridable by a flag. Validation is by hand
// against the table of settings.ts so that every error names the key and what is wrong.
export interface AgentConfig {
  name: string;
  vtep: string;
  vtepInterface: string;
  vxlanPort: number;
  underlayMtu: number; // 0: detected from the VTEP's interface
  etcd: {
    endpoints: string[];
    caFile: string;
    certFile: string;
    keyFile: string;
    username: string;
    password: string;
    timeoutMs: number;
  };
  leaseTtl: number; // seconds
  deadHostTimeout: number; // seconds; 0: hosts are removed by `host rm` only
  resyncInterval: number; // seconds
  ipForward: 'auto' | 'manual';
  api: {
    socket: string;
    socketMode: number;
    socketGroup: string;
    tcp: string;
    certFile: string;
    keyFile: string;
    clientCaFile: string;
  };
  log: { level: Level; format: 'json' | 'text' | '' };
  metrics: { listen: string };
  cni: { socket: string };
  // Docker's plugin: 'auto' serves it where /run/docker/plugins exists (Docker is installed).
  docker: { enabled: 'auto' | 'true' | 'false'; socket: string; scope: 'local' | 'global' };
  dns: {
    enabled: 'true' | 'false';
    domain: string;
    ttl: number; // seconds
    port: number;
    socket: string;
    resolvConf: string;
    upstreams: string[];
    upstreamTimeoutMs: number;
    cacheSize: number;
    maxInFlight: number;
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const EX_CONFIG = 78;

// From the table; settings-check.ts makes the build fail where table and AgentConfig disagree.
export function defaults(): AgentConfig {
  const cfg: Record<string, unknown> = {};
  for (const s of SECTIONS) cfg[s] = {};
  for (const s of SETTINGS as readonly Setting[]) {
    const d = s.default;
    set(cfg, configPath(s.yaml), typeof d === 'function' ? d() : typeof d === 'object' ? [...d] : d);
  }
  return cfg as unknown as CheckedConfig;
}

function coerce(key: string, kind: Kind, v: unknown): unknown {
  const bad = (want: string): never => {
    throw new ConfigError(`${key}: expected ${want}, got ${JSON.stringify(v)}`);
  };
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? v : bad('a string');
    case 'port':
      return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536
        ? v
        : bad('a UDP port number (1-65535)');
    case 'uint':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : bad('a whole number >= 0');
    case 'strings':
      if (typeof v === 'string')
        return v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      return Array.isArray(v) && v.every((s) => typeof s === 'string') && v.length > 0
        ? v
        : bad('a non-empty list of strings');
    case 'mode':
      if (typeof v === 'string' && /^0?[0-7]{3}$/.test(v)) return parseInt(v, 8);
      return typeof v === 'number' && v >= 0 && v <= 0o777 ? v : bad('a file mode such as "0600"');
    case 'level':
      return v === 'debug' || v === 'info' || v === 'warn' || v === 'error'
        ? v
        : bad('one of debug, info, warn, error');
    case 'format':
      return v === 'json' || v === 'text' ? v : bad('json or text');
    case 'auto':
      return v === true || v === 'true'
        ? 'true'
        : v === false || v === 'false'
          ? 'false'
          : v === 'auto'
            ? v
            : bad('true, false or auto');
    case 'bool':
      return v === true || v === 'true' ? 'true' : v === false || v === 'false' ? 'false' : bad('true or false');
    case 'forward':
      return v === 'auto' || v === 'manual' ? v : bad('auto (the agent turns forwarding on for egress) or manual');
    case 'scope':
      return v === 'local' || v === 'global'
        ? v
        : bad('local (every dockerd on its own) or global (dockerd with --cluster-store)');
  }
}

function set(cfg: object, path: string[], value: unknown): void {
  let o = cfg as Record<string, unknown>;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string, unknown>;
  o[path[path.length - 1]] = value;
}

export function applyValues(cfg: AgentConfig, flat: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(flat)) {
    const setting = settingOf(key);
    if (!setting) throw new ConfigError(`${where}: unknown key "${key}"; known keys: ${SETTING_KEYS.join(', ')}`);
    set(cfg, configPath(key), coerce(`${where}: ${key}`, setting.kind, value));
  }
}

function flatten(doc: Record<string, unknown>, file: string): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (SECTIONS.has(k)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new ConfigError(`${file}: ${k}: expected a mapping of keys`);
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) flat[`${k}.${k2}`] = v2;
    } else {
      flat[k] = v;
    }
  }
  return flat;
}

export function loadConfigFile(file: string, cfg: AgentConfig = defaults()): AgentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config file: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    // Loaded only with a file to read: the yaml package is ~40 ms of an agent's start without one.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose
    const YAML = require('yaml') as typeof YAMLModule;
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return cfg;
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`${file}: expected a mapping of keys at the top level`);
  applyValues(cfg, flatten(doc as Record<string, unknown>, file), file);
  return cfg;
}

// Fills in what can be derived and refuses what cannot work.
export function finalize(cfg: AgentConfig): AgentConfig {
  if (!cfg.name || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(cfg.name))
    throw new ConfigError(`name: "${cfg.name}" is not a valid host name (letters, digits, _ . -, at most 63)`);
  const ifaces = os.networkInterfaces();
  if (!cfg.vtep && cfg.vtepInterface) {
    const addrs = ifaces[cfg.vtepInterface];
    if (!addrs) throw new ConfigError(`vtep_interface: no interface named ${cfg.vtepInterface}`);
    const a =
      addrs.find((x) => x.family === 'IPv4') ?? addrs.find((x) => x.family === 'IPv6' && !x.address.startsWith('fe80'));
    if (!a) throw new ConfigError(`vtep_interface: ${cfg.vtepInterface} has no usable address`);
    cfg.vtep = a.address;
  }
  if (!cfg.vtep) throw new ConfigError('vtep: required (the underlay address of this host), or set vtep_interface');
  const owner = Object.entries(ifaces).find(([, list]) => list?.some((x) => x.address === cfg.vtep));
  if (!owner) throw new ConfigError(`vtep: ${cfg.vtep} is not an address of this host`);
  if (!cfg.vtepInterface) cfg.vtepInterface = owner[0];
  if (!cfg.underlayMtu) {
    try {
      cfg.underlayMtu = Number(fs.readFileSync(`/sys/class/net/${owner[0]}/mtu`, 'utf8').trim());
    } catch {
      cfg.underlayMtu = 1500;
    }
  }
  if (cfg.api.tcp) {
    if (!/^[^\s]+:\d{1,5}$/.test(cfg.api.tcp)) throw new ConfigError(`api.tcp: "${cfg.api.tcp}" is not host:port`);
    // The API can create and delete networks: on TCP it is served only with mutual TLS.
    for (const [key, file] of [
      ['api.cert_file', cfg.api.certFile],
      ['api.key_file', cfg.api.keyFile],
      ['api.client_ca_file', cfg.api.clientCaFile],
    ] as const) {
      if (!file)
        throw new ConfigError(`${key}: required when api.tcp is set (the TCP API is served only with mutual TLS)`);
    }
  }
  if (cfg.metrics.listen && !/^(\[[0-9a-fA-F:]+\]|[^\s:]+)?:\d{1,5}$/.test(cfg.metrics.listen))
    throw new ConfigError(`metrics.listen: "${cfg.metrics.listen}" is not host:port (for example 127.0.0.1:9476)`);
  checkTls('etcd', cfg.etcd.caFile, cfg.etcd.certFile, cfg.etcd.keyFile);
  if (cfg.api.tcp) checkTls('api', cfg.api.clientCaFile, cfg.api.certFile, cfg.api.keyFile, true);
  for (const e of cfg.etcd.endpoints) {
    if (!/^(https?:\/\/[^\s/]+|unix:\/\/\/\S+)$/.test(e))
      throw new ConfigError(
        `etcd.endpoints: "${e}" is not an etcd URL (http://host:port, https://host:port or unix:///path)`,
      );
  }
  if (cfg.etcd.certFile && !cfg.etcd.caFile)
    throw new ConfigError('etcd.ca_file: required with etcd.cert_file (the CA that signs the etcd servers)');
  if (!!cfg.etcd.certFile !== !!cfg.etcd.keyFile)
    throw new ConfigError(
      `etcd.${cfg.etcd.certFile ? 'key_file' : 'cert_file'}: etcd.cert_file and etcd.key_file go together`,
    );
  if (cfg.etcd.password && !cfg.etcd.username) throw new ConfigError('etcd.username: required with etcd.password');
  // The CNI shim's socket sits beside the API socket unless configured (the shim's default is
  // /run/vxnet/cni.sock, next to the default API socket).
  if (!cfg.cni.socket) cfg.cni.socket = `${cfg.api.socket.replace(/\/[^/]*$/, '')}/cni.sock`;
  if (cfg.docker.enabled === 'auto')
    cfg.docker.enabled = fs.existsSync('/run/docker/plugins') || fs.existsSync('/usr/sbin/dockerd') ? 'true' : 'false';
  if (cfg.docker.enabled === 'true' && !cfg.docker.socket.endsWith('.sock'))
    throw new ConfigError(
      `docker.socket: "${cfg.docker.socket}" must end in .sock (Docker finds plugins by <name>.sock)`,
    );
  if (!cfg.dns.socket) cfg.dns.socket = `${cfg.api.socket.replace(/\/[^/]*$/, '')}/dns.sock`;
  cfg.dns.domain = cfg.dns.domain.toLowerCase().replace(/^\.+|\.+$/g, '');
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(cfg.dns.domain))
    throw new ConfigError(`dns.domain: "${cfg.dns.domain}" is not a domain name (labels of letters, digits and -)`);
  if (cfg.dns.domain === 'local')
    throw new ConfigError('dns.domain: "local" is mDNS\'s (RFC 6762); choose another, such as vxnet');
  if (cfg.dns.upstreamTimeoutMs < 50) throw new ConfigError('dns.upstream_timeout_ms: must be at least 50');
  if (cfg.leaseTtl < 2) throw new ConfigError('lease_ttl: must be at least 2 seconds');
  if (cfg.deadHostTimeout > 0 && cfg.deadHostTimeout < 2 * cfg.leaseTtl)
    throw new ConfigError(
      `dead_host_timeout: ${cfg.deadHostTimeout} s is under twice lease_ttl (${cfg.leaseTtl} s): a paused agent would be removed`,
    );
  if (cfg.resyncInterval < 1) throw new ConfigError('resync_interval: must be at least 1 second');
  return cfg;
}

// A file a key names (certificates, keys): an error that names the key when it cannot be read.
export function readKeyFile(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(
      `${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

// Certificates are checked at start, not at the first handshake: a wrong file must stop the agent
// with a line that names it, not surface later as "etcd unreachable".
function checkTls(section: string, caFile: string, certFile: string, keyFile: string, clientCa = false): void {
  let ca: crypto.X509Certificate | undefined;
  if (caFile) {
    const k = `${section}.${clientCa ? 'client_ca_file' : 'ca_file'}`;
    try {
      ca = new crypto.X509Certificate(readKeyFile(k, caFile));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${k}: ${caFile} is not a PEM certificate`);
    }
  }
  if (!certFile) return;
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(readKeyFile(`${section}.cert_file`, certFile));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${section}.cert_file: ${certFile} is not a PEM certificate`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(readKeyFile(`${section}.key_file`, keyFile));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${section}.key_file: ${keyFile} is not a PEM private key`);
  }
  if (!cert.checkPrivateKey(key))
    throw new ConfigError(`${section}.key_file: ${keyFile} does not belong to the certificate ${certFile}`);
  // The server certificate of the TCP API is presented to clients; the etcd client certificate to
  // etcd. Either way it must be signed by the CA configured beside it when both are ours.
  if (ca && !clientCa && !cert.verify(ca.publicKey))
    throw new ConfigError(`${section}.cert_file: ${certFile} is not signed by the CA in ${caFile}`);
}
