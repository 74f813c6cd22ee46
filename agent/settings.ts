import * as os from 'os';

// Every setting of the agent, declared once. The YAML schema and defaults (config.ts), the flags and
// `vxnet agent --help` (main.ts) are made from this table, and a unit test checks that
// deploy/agent.yaml documents every key. The AgentConfig field of a key is its camel-cased name
// (etcd.ca_file: etcd.caFile); config.ts checks at compile time that table and interface agree.

// How a value is checked and converted (config.ts `coerce`); also what a flag's text must look like.
export type Kind =
  'string' | 'port' | 'uint' | 'strings' | 'mode' | 'level' | 'format' | 'auto' | 'scope' | 'bool' | 'forward';

export interface Setting {
  readonly yaml: string; // "key" or "section.key"
  readonly kind: Kind;
  // A function where the default depends on the host (its name).
  readonly default: string | number | readonly string[] | (() => string);
  // No flag: a key of the file only (a password stays out of the process list).
  readonly flag?: { readonly name: string; readonly value: string; readonly help: string };
}

export const SETTINGS = [
  {
    yaml: 'name',
    kind: 'string',
    default: () => os.hostname(),
    flag: { name: '--name', value: 'NAME', help: 'host name' },
  },
  {
    yaml: 'vtep',
    kind: 'string',
    default: '',
    flag: { name: '--vtep', value: 'IP', help: 'underlay address of this host' },
  },
  {
    yaml: 'vtep_interface',
    kind: 'string',
    default: '',
    flag: { name: '--vtep-interface', value: 'IF', help: 'take the VTEP address from IF' },
  },
  {
    yaml: 'vxlan_port',
    kind: 'port',
    default: 4789,
    flag: { name: '--vxlan-port', value: 'N', help: 'VXLAN UDP port, 4789 (flannel: 8472)' },
  },
  {
    yaml: 'underlay_mtu',
    kind: 'uint',
    default: 0,
    flag: { name: '--underlay-mtu', value: 'N', help: 'underlay MTU, detected if unset' },
  },
  {
    yaml: 'etcd.endpoints',
    kind: 'strings',
    default: ['http://127.0.0.1:2379'],
    flag: { name: '--etcd', value: 'URLS', help: 'etcd endpoints, comma-separated' },
  },
  {
    yaml: 'etcd.ca_file',
    kind: 'string',
    default: '',
    flag: { name: '--etcd-cafile', value: 'FILE', help: 'CA of the etcd servers' },
  },
  {
    yaml: 'etcd.cert_file',
    kind: 'string',
    default: '',
    flag: { name: '--etcd-certfile', value: 'FILE', help: 'client certificate for etcd' },
  },
  {
    yaml: 'etcd.key_file',
    kind: 'string',
    default: '',
    flag: { name: '--etcd-keyfile', value: 'FILE', help: 'its key' },
  },
  {
    yaml: 'etcd.username',
    kind: 'string',
    default: '',
    flag: { name: '--etcd-user', value: 'NAME', help: 'etcd user' },
  },
  { yaml: 'etcd.password', kind: 'string', default: '' },
  { yaml: 'etcd.timeout_ms', kind: 'uint', default: 5000 },
  {
    yaml: 'lease_ttl',
    kind: 'uint',
    default: 10,
    flag: { name: '--lease-ttl', value: 'SECONDS', help: 'host lease TTL' },
  },
  {
    yaml: 'dead_host_timeout',
    kind: 'uint',
    default: 0,
    flag: { name: '--dead-host-timeout', value: 'SECS', help: 'remove hosts unreachable this long (0: never)' },
  },
  {
    yaml: 'resync_interval',
    kind: 'uint',
    default: 30,
    flag: { name: '--resync-interval', value: 'SECS', help: 'periodic full reconcile' },
  },
  // auto: the agent turns IPv4/IPv6 forwarding on where it serves a network with egress (as Docker
  // does); manual: the operator's sysctl decides, and the agent warns once where it is off.
  {
    yaml: 'ip_forward',
    kind: 'forward',
    default: 'auto',
    flag: { name: '--ip-forward', value: 'auto|manual', help: 'turn on forwarding for egress, or leave it' },
  },
  {
    yaml: 'api.socket',
    kind: 'string',
    default: '/run/vxnet/vxnet.sock',
    flag: { name: '--socket', value: 'PATH', help: 'API unix socket' },
  },
  { yaml: 'api.socket_mode', kind: 'mode', default: 0o600 },
  { yaml: 'api.socket_group', kind: 'string', default: '' },
  {
    yaml: 'api.tcp',
    kind: 'string',
    default: '',
    flag: { name: '--tcp', value: 'HOST:PORT', help: 'also serve the API on TCP, mTLS only' },
  },
  {
    yaml: 'api.cert_file',
    kind: 'string',
    default: '',
    flag: { name: '--tls-cert', value: 'FILE', help: 'server certificate for --tcp' },
  },
  {
    yaml: 'api.key_file',
    kind: 'string',
    default: '',
    flag: { name: '--tls-key', value: 'FILE', help: 'server key for --tcp' },
  },
  {
    yaml: 'api.client_ca_file',
    kind: 'string',
    default: '',
    flag: { name: '--tls-client-ca', value: 'FILE', help: 'CA that signs client certificates' },
  },
  {
    yaml: 'log.level',
    kind: 'level',
    default: 'info',
    flag: { name: '--log-level', value: 'LEVEL', help: 'debug, info, warn, error' },
  },
  // '': json when stderr is not a terminal, text when it is (log.ts).
  {
    yaml: 'log.format',
    kind: 'format',
    default: '',
    flag: { name: '--log-format', value: 'FORMAT', help: 'json or text' },
  },
  {
    yaml: 'metrics.listen',
    kind: 'string',
    default: '',
    flag: { name: '--metrics', value: 'HOST:PORT', help: 'serve /metrics, /healthz and /readyz' },
  },
  // '': cni.sock beside api.socket (config.ts finalize).
  {
    yaml: 'cni.socket',
    kind: 'string',
    default: '',
    flag: { name: '--cni-socket', value: 'PATH', help: "socket of the CNI plugin's shim" },
  },
  // 'auto' serves Docker's plugin where Docker is installed (config.ts finalize).
  {
    yaml: 'docker.enabled',
    kind: 'auto',
    default: 'auto',
    flag: { name: '--docker', value: 'auto|true|false', help: 'serve the Docker network/IPAM plugin' },
  },
  {
    yaml: 'docker.socket',
    kind: 'string',
    default: '/run/docker/plugins/vxnet.sock',
    flag: { name: '--docker-socket', value: 'PATH', help: "the plugin's socket" },
  },
  {
    yaml: 'docker.scope',
    kind: 'scope',
    default: 'local',
    flag: { name: '--docker-scope', value: 'SCOPE', help: 'local or global (dockerd --cluster-store)' },
  },
  // The resolver on every served network's gateway (agent/dns/).
  {
    yaml: 'dns.enabled',
    kind: 'bool',
    default: 'true',
    flag: { name: '--dns', value: 'true|false', help: 'answer names on the gateways' },
  },
  {
    yaml: 'dns.domain',
    kind: 'string',
    default: 'vxnet',
    flag: { name: '--dns-domain', value: 'DOMAIN', help: 'NAME.NETWORK.DOMAIN' },
  },
  // Seconds: a client's cache forgets a removed endpoint this soon; answers cost 0.04 ms.
  { yaml: 'dns.ttl', kind: 'uint', default: 2 },
  { yaml: 'dns.port', kind: 'port', default: 53 },
  // '': dns.sock beside api.socket (config.ts finalize).
  {
    yaml: 'dns.socket',
    kind: 'string',
    default: '',
    flag: { name: '--dns-socket', value: 'PATH', help: "the resolver process's control socket" },
  },
  {
    yaml: 'dns.resolv_conf',
    kind: 'string',
    default: '/etc/resolv.conf',
    flag: { name: '--dns-resolv-conf', value: 'FILE', help: 'upstream resolvers from FILE' },
  },
  // Overrides dns.resolv_conf: "IP", "IP:PORT", "[IPv6]:PORT", in order.
  {
    yaml: 'dns.upstreams',
    kind: 'strings',
    default: [],
    flag: { name: '--dns-upstreams', value: 'LIST', help: 'upstream resolvers, comma-separated' },
  },
  { yaml: 'dns.upstream_timeout_ms', kind: 'uint', default: 1000 },
  { yaml: 'dns.cache_size', kind: 'uint', default: 10000 },
  { yaml: 'dns.max_in_flight', kind: 'uint', default: 65536 },
] as const satisfies readonly Setting[];

// "client_ca_file" -> "clientCaFile", at run time and in types alike.
type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
export type ConfigPath<K extends string> = K extends `${infer S}.${infer L}` ? `${S}.${Camel<L>}` : Camel<K>;
export const configPath = (key: string): string[] =>
  key.split('.').map((p) => p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));

const BY_KEY = new Map<string, Setting>(SETTINGS.map((s) => [s.yaml, s]));
export const settingOf = (key: string): Setting | undefined => BY_KEY.get(key);
export const SETTING_KEYS: readonly string[] = SETTINGS.map((s) => s.yaml);

// Sections: the top-level keys that hold keys of their own.
export const SECTIONS: ReadonlySet<string> = new Set(
  SETTINGS.filter((s) => s.yaml.includes('.')).map((s) => s.yaml.split('.')[0]),
);

// Flag name -> setting; a flag's value is a number where its key's kind is one.
export const FLAGS: ReadonlyMap<string, Setting> = new Map(
  SETTINGS.flatMap((s): [string, Setting][] => ('flag' in s ? [[s.flag.name, s]] : [])),
);
export const takesNumber = (s: Setting): boolean => s.kind === 'port' || s.kind === 'uint';

// The options part of `vxnet agent --help`: a flag per line with the key it overrides, then the keys
// that only the file sets.
export function flagHelp(): string {
  const lines = [];
  const fileOnly: string[] = [];
  for (const s of SETTINGS as readonly Setting[]) {
    if (!s.flag) fileOnly.push(s.yaml);
    else lines.push(`  ${`${s.flag.name} ${s.flag.value}`.padEnd(24)} ${s.flag.help.padEnd(38)} (${s.yaml})`);
  }
  return `${lines.join('\n')}\n\nKeys of the config file only: ${fileOnly.join(', ')}\n`;
}
