import * as assert from 'assert';
import { ClusterState } from '../../agent/view';
import { EventLog } from '../../agent/events';
import type { Event } from '../../control/generated/vxnet/v1/Event';
import type { EndpointRecord } from '../../control/model';
import type { Store } from '../../control/store/store';
import { FakeEtcd, quietLog } from '../helpers/fakes';
import { epRecord, hostRecord, netRecord } from '../helpers/records';

const ep = (id: string, host: string, n: number): EndpointRecord =>
  epRecord({ id, networkId: 'n1', host, mac: `02:00:00:00:00:0${n}`, ipv4: `10.1.0.${n}/24` });

// The events `vxnet events` shows come from the view's watch: another host's writes as etcd
// delivers them, and this host's own, which are in the view before their watch event arrives.
describe('cluster events from the view (ClusterState on a fake etcd)', () => {
  it('a create, connects and disconnects on another host and on this one, and a removal, in order', async () => {
    // The slowest delivery: the watch event of this host's own write comes after its answer.
    const etcd = new FakeEtcd(() => 0.99);
    etcd.addHost(hostRecord('h1', '192.168.231.11'));
    const store = etcd.asStore() as Store;
    const log = new EventLog(100, (id) => etcd.networks.get(id)?.name ?? '');
    const seen: Event[] = [];
    log.on('event', (e: Event) => seen.push(e));
    const state = new ClusterState(store, 'h1', quietLog, log);
    await state.start();

    etcd.addNetwork(netRecord('n1', 100, '10.1.0.0/24'));
    const other = ep('e2', 'h2', 2);
    etcd.put(other);
    await etcd.delivered();
    etcd.remove(other);
    await etcd.delivered();
    // This host's own Connect and Disconnect, written as EndpointService writes them.
    const own = ep('e1', 'h1', 3);
    const created = (await state.ownWrite(own.id, false, () => store.createEndpoint(own, ['10.1.0.3']))) as {
      ok: true;
      revision: number;
    };
    state.applyLocalEndpoint(own, false, created.revision);
    await etcd.delivered();
    const deleted = await state.ownWrite(own.id, true, () => store.deleteEndpoint(own));
    state.applyLocalEndpoint(own, true, deleted);
    await etcd.delivered();
    etcd.removeNetwork('n1');
    await etcd.delivered();
    await state.stop();

    assert.deepStrictEqual(
      seen.map((e) => `${e.type} ${e.action} ${e.name} ${e.host ?? ''}`.trim()),
      [
        'network create n1',
        'endpoint connect e2 h2',
        'endpoint disconnect e2 h2',
        'endpoint connect e1 h1',
        'endpoint disconnect e1 h1',
        'network remove n1',
      ],
    );
    assert.deepStrictEqual(
      log.recent(0).map((e) => e.network),
      ['n1', 'n1', 'n1', 'n1', 'n1', 'n1'],
    );
  });

  it("hosts: the lease key's arrival is a join, its end a leave (the host's entries stay), the record's removal a remove", async () => {
    const etcd = new FakeEtcd();
    const store = etcd.asStore() as Store;
    const log = new EventLog(100);
    const seen: Event[] = [];
    log.on('event', (e: Event) => seen.push(e));
    const state = new ClusterState(store, 'h1', quietLog, log);
    await state.start();
    etcd.addHost(hostRecord('h2', '192.168.231.12'));
    etcd.setAlive('h2', '2026-01-01T00:00:00.000Z');
    etcd.setAlive('h2', undefined);
    await etcd.delivered();
    assert.ok(state.snap?.hosts.has('h2'), 'a lost lease took the host record');
    assert.ok(!state.snap?.alive.has('h2'));
    etcd.removeHost('h2');
    await etcd.delivered();
    await state.stop();
    assert.deepStrictEqual(
      seen.map((e) => `${e.type} ${e.action} ${e.name} ${e.vtep ?? ''}`),
      ['host join h2 192.168.231.12', 'host leave h2 192.168.231.12', 'host remove h2 192.168.231.12'],
    );
  });
});
