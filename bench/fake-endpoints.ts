// Endpoint records written straight to etcd, as if other hosts had connected them: the load of the
// bulk and scale figures.
import type { Etcd3 } from 'etcd3';
import { keys } from '../control/store/keys';

// Endpoints of the bench's network 10.64.0.0/10 as if from another host: ids and MACs from `base`,
// addresses from 10.64.0.0 + `ipBase` up.
export function fakeEndpoints(
  netId: string,
  host: string,
  count: number,
  base: number,
  ipBase: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const n = base + i;
    const a = ipBase + i;
    const ip = `10.${64 + ((a >> 16) & 0x3f)}.${(a >> 8) & 255}.${a & 255}`;
    const mac = `02:43:${[(n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    const id = `${n.toString(16).padStart(8, '0')}${'e'.repeat(56)}`;
    out[keys.endpoint(netId, id)] = JSON.stringify({
      id,
      networkId: netId,
      name: `bulk-${n}`,
      host,
      sandbox: `/run/netns/bulk-${n}`,
      ifname: 'eth0',
      mac,
      ipv4: `${ip}/10`,
      ipv6: '',
      aliases: [],
      created: '',
    });
  }
  return out;
}

export async function putAll(kv: Etcd3, entries: Record<string, string>): Promise<void> {
  const list = Object.entries(entries);
  for (let i = 0; i < list.length; i += 5000) {
    const chunk = list.slice(i, i + 5000);
    await kv.kv.txn({
      compare: [],
      success: chunk.map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } })),
      failure: [],
    });
  }
}
export async function delAll(kv: Etcd3, keyList: string[]): Promise<void> {
  for (let i = 0; i < keyList.length; i += 5000) {
    await kv.kv.txn({
      compare: [],
      success: keyList.slice(i, i + 5000).map((k) => ({ request_delete_range: { key: Buffer.from(k) } })),
      failure: [],
    });
  }
}
