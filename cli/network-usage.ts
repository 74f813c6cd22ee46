// Each `vxnet network` verb's flags and the --help text that documents them, side by side so that
// the two stay in step.
import type { FlagSpec } from './args';

export const NETWORK_USAGE = `Usage:  vxnet network COMMAND

Manage vxnet networks

Commands:
  connect     Connect a network namespace to a network
  create      Create a network
  disconnect  Disconnect a network namespace from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks

Run 'vxnet network COMMAND --help' for more information on a command.
`;

const help: FlagSpec = { names: ['-h', '--help'], key: 'help', kind: 'bool' };

export const CREATE_FLAGS: FlagSpec[] = [
  help,
  { names: ['-d', '--driver'], key: 'driver', kind: 'string' },
  { names: ['--subnet'], key: 'subnet', kind: 'list' },
  { names: ['--gateway'], key: 'gateway', kind: 'list' },
  { names: ['--ip-range'], key: 'ip-range', kind: 'list' },
  { names: ['--aux-address'], key: 'aux-address', kind: 'list' },
  { names: ['--ipv6'], key: 'ipv6', kind: 'bool' },
  { names: ['--internal'], key: 'internal', kind: 'bool' },
  { names: ['--attachable'], key: 'attachable', kind: 'bool' },
  { names: ['--label'], key: 'label', kind: 'list' },
  { names: ['-o', '--opt'], key: 'opt', kind: 'list' },
  { names: ['--ipam-driver'], key: 'ipam-driver', kind: 'string' },
  { names: ['--ipam-opt'], key: 'ipam-opt', kind: 'list' },
  { names: ['--scope'], key: 'scope', kind: 'string' },
];
export const LS_FLAGS: FlagSpec[] = [
  help,
  { names: ['-f', '--filter'], key: 'filter', kind: 'list' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['--no-trunc'], key: 'no-trunc', kind: 'bool' },
  { names: ['-q', '--quiet'], key: 'quiet', kind: 'bool' },
];
export const INSPECT_FLAGS: FlagSpec[] = [help, { names: ['-f', '--format'], key: 'format', kind: 'string' }];
export const RM_FLAGS: FlagSpec[] = [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }];
export const PRUNE_FLAGS: FlagSpec[] = [
  help,
  { names: ['-f', '--force'], key: 'force', kind: 'bool' },
  { names: ['--filter'], key: 'filter', kind: 'list' },
];
export const CONNECT_FLAGS: FlagSpec[] = [
  help,
  { names: ['--ip'], key: 'ip', kind: 'string' },
  { names: ['--ip6'], key: 'ip6', kind: 'string' },
  { names: ['--alias'], key: 'alias', kind: 'list' },
  { names: ['--ifname'], key: 'ifname', kind: 'string' },
  { names: ['--mac'], key: 'mac', kind: 'string' },
  { names: ['--name'], key: 'name', kind: 'string' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['--wait'], key: 'wait', kind: 'bool' },
];
export const DISCONNECT_FLAGS: FlagSpec[] = [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }];

export const USAGES: Record<string, string> = {
  create: `Usage:  vxnet network create [OPTIONS] NETWORK

Create a network (on any host: networks are cluster-wide); prints its ID

Options:
      --attachable           Enable manual container attachment
      --aux-address map      Auxiliary IPv4 or IPv6 addresses used by Network driver (name=ip)
  -d, --driver string        Driver to manage the Network (default "overlay")
      --gateway strings      IPv4 or IPv6 Gateway for the master subnet
      --internal             Restrict external access to the network
      --ip-range strings     Allocate container ip from a sub-range
      --ipam-driver string   IP Address Management Driver (default "default")
      --ipam-opt map         Set IPAM driver specific options
      --ipv6                 Enable IPv6 networking
      --label list           Set metadata on a network
  -o, --opt map              Set driver specific options (com.docker.network.driver.overlay.vxlanid_list=N,
                             com.docker.network.driver.mtu=N, egress=masquerade|none)
      --scope string         Control the network's scope (only "global")
      --subnet strings       Subnet in CIDR format that represents a network segment
`,
  ls: `Usage:  vxnet network ls [OPTIONS]

List networks

Aliases:
  vxnet network ls, vxnet network list

Options:
  -f, --filter filter   Provide filter values (e.g. 'driver=overlay', 'name=blue', 'id=ab12',
                        'label=k', 'label=k=v', 'scope=global', 'type=custom')
      --format string   Format output using a custom template:
                        'table':            Print output in table format with column headers (default)
                        'table TEMPLATE':   Print output in table format using the given Go template
                        'json':             Print in JSON format
                        'TEMPLATE':         Print output using the given Go template
                        Fields: .ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt .Label "k"
      --no-trunc        Do not truncate the output
  -q, --quiet           Only display network IDs
`,
  inspect: `Usage:  vxnet network inspect [OPTIONS] NETWORK [NETWORK...]

Display detailed information on one or more networks (by name, ID or unique ID prefix)

Options:
  -f, --format string   Format output using a custom template:
                        'json':             Print in JSON format (default)
                        'TEMPLATE':         Print output using the given Go template,
                                            e.g. '{{range .IPAM.Config}}{{.Subnet}}{{end}}'
`,
  rm: `Usage:  vxnet network rm NETWORK [NETWORK...]

Remove one or more networks

Aliases:
  vxnet network rm, vxnet network remove

Options:
  -f, --force   Do not error if the network does not exist
`,
  prune: `Usage:  vxnet network prune [OPTIONS]

Remove all unused networks (networks without endpoints)

Options:
      --filter filter   Provide filter values (e.g. 'until=24h', 'label=k', 'label=k=v', 'label!=k')
  -f, --force           Do not prompt for confirmation
`,
  connect: `Usage:  vxnet network connect [OPTIONS] NETWORK SANDBOX

Connect a network namespace (a name under /run/netns, or a path such as /proc/PID/ns/net) to a
network. Run it against the agent of the host where the namespace lives. Prints nothing on success,
like Docker; --format prints the new endpoint.

Options:
      --alias strings     Add network-scoped alias for the endpoint
      --format string     Print the endpoint using a Go template: .Name .EndpointID .MacAddress
                          .IPv4Address .IPv6Address .InterfaceName .Host .Sandbox .Aliases .Gateway
                          .GatewayIPv6 .MTU .LaggingHosts; 'json' for all of them
      --ifname string     Interface name inside the namespace (default eth0, eth1, ...)
      --ip string         IPv4 address (e.g., 172.30.100.104)
      --ip6 string        IPv6 address (e.g., 2001:db8::33)
      --mac string        MAC address (default 02:42 followed by the IPv4 address)
      --name string       Endpoint name (default the namespace's name)
      --wait              Return only when every host serving the network can reach the endpoint
`,
  disconnect: `Usage:  vxnet network disconnect [OPTIONS] NETWORK SANDBOX

Disconnect a network namespace (or an endpoint, by name or ID) from a network

Options:
  -f, --force   Force the namespace to disconnect from a network (also from another host, or when
                the namespace is gone)
`,
};
