import * as assert from 'assert';
import { ClusterState } from '../../agent/view';
import type { EndpointRecord } from '../../control/model';
import type { Store } from '../../control/store/store';
import { FakeEtcd, quietLog } from '../helpers/fakes';
import { epRecord, hostRecord, netRecord, sequence } from '../helpers/records';

// The n-th endpoint: its id, MAC and address all follow n.
const next = sequence((n) => n);
function ep(host: string, networkId = 'n1'): EndpointRecord {
  const n = next();
  return epRecord({
    id: n.toString(16).padStart(64, '0'),
    networkId,
    host,
    mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
    ipv4: `10.1.0.${n + 1}/24`,
  });
}

async function view(): Promise<{ etcd: FakeEtcd; state: ClusterState; changes: string[] }> {
  const etcd = new FakeEtcd();
  etcd.addHost(hostRecord('h1', '192.168.231.11'));
  etcd.addHost(hostRecord('h2', '192.168.231.12'));
  etcd.addNetwork(netRecord('n1', 100, '10.1.0.0/24'));
  etcd.addNetwork(netRecord('n2', 200, '10.2.0.0/24'));
  const state = new ClusterState(etcd.asStore() as Store, 'h1', quietLog);
  const changes: string[] = [];
  state.on('change', (why: string) => changes.push(why));
  await state.start();
  await etcd.delivered(); // the set-up's own events
  changes.length = 0;
  return { etcd, state, changes };
}

describe('cluster view on fakes: journal, own writes, which events are changes', () => {
  it("journals other hosts' endpoints in served networks, in order, until something else changes the view", async () => {
    const x = await view();
    const local = ep('h1');
    x.state.applyLocalEndpoint(local, false, x.etcd.put(local));
    await x.etcd.delivered();
    x.state.journalSince(undefined); // a run starts a journal
    const v = x.state.version;
    const a = ep('h2');
    const b = ep('h2');
    x.etcd.put(a);
    x.etcd.put(b);
    x.etcd.remove(a);
    await x.etcd.delivered();
    assert.deepStrictEqual(
      x.state.journalSince(v)?.map((c) => [c.ep.id, c.kind]),
      [
        [a.id, 'created'],
        [b.id, 'created'],
        [a.id, 'deleted'],
      ],
    );
    const w = x.state.version;
    x.state.applyLocalEndpoint(ep('h1'), false, 0); // this host's own: not patchable
    assert.strictEqual(x.state.journalSince(w), undefined);
  });

  it("another host's endpoint in a network this host does not serve is no change, unless the reconciler says it may serve it", async () => {
    const x = await view();
    x.changes.length = 0;
    let served = false;
    x.state.setServed(() => served);
    x.etcd.put(ep('h2', 'n2'));
    await x.etcd.delivered();
    assert.deepStrictEqual(x.changes, []);
    served = true;
    x.etcd.put(ep('h2', 'n2'));
    await x.etcd.delivered();
    assert.deepStrictEqual(x.changes, ['watch']);
  });

  it("this host's own write is applied at once and its watch event is no change", async () => {
    const x = await view();
    x.changes.length = 0;
    const mine = ep('h1');
    x.state.applyLocalEndpoint(mine, false, x.etcd.put(mine));
    assert.ok(x.state.snap?.endpoints.has(mine.id));
    await x.etcd.delivered();
    assert.deepStrictEqual(x.changes, []);
  });

  it('a reload from a load older than an own write keeps the write', async () => {
    const x = await view();
    const mine = ep('h1');
    // The write commits at a revision past what the next load will have seen.
    const rev = x.etcd.put(mine);
    x.etcd.endpoints.delete(mine.id); // the load does not have it yet
    x.etcd.revision = rev - 1;
    x.state.applyLocalEndpoint(mine, false, rev);
    await x.state.reload('test');
    assert.ok(x.state.snap?.endpoints.has(mine.id), 'the reload forgot an own write it had not caught up with');
    assert.deepStrictEqual(x.changes.slice(-1), ['reload']);
  });
});
