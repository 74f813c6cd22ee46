import * as fs from 'fs';

// The kernel switches the agent turns on: /proc/sys of the agent's own network namespace.
const FORWARDING = { v4: '/proc/sys/net/ipv4/ip_forward', v6: '/proc/sys/net/ipv6/conf/all/forwarding' };

// '1', '0', or undefined where the family is absent (IPv6 disabled).
export function forwarding(family: 'v4' | 'v6'): string | undefined {
  try {
    return fs.readFileSync(FORWARDING[family], 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function enableForwarding(family: 'v4' | 'v6'): void {
  fs.writeFileSync(FORWARDING[family], '1\n');
}
