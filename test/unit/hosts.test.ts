import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { hostEntries, hostStatesOfView } from '../../agent/hosts/list';
import { HostService } from '../../agent/hosts/service';
import { Liveness } from '../../agent/hosts/liveness';
import { EtcdOutage } from '../../agent/outage';
import { EtcdHealth, SILENCE_MS } from '../../control/store/health';
import { VxError, etcdUnavailable, unavailable } from '../../control/errors';
import type { ClusterView, HostState } from '../../control/store/store';
import { quietLog } from '../helpers/fakes';
import { epRecord, hostRecord, netRecord, snapshot } from '../helpers/records';

const T0 = '2026-01-01T00:00:00.000Z';

function view(): ClusterView {
  const snap = snapshot(
    [netRecord('n1', 100, '10.1.0.0/24')],
    [
      epRecord({ id: 'e1', networkId: 'n1', host: 'h1' }),
      epRecord({ id: 'e2', networkId: 'n1', host: 'h2' }),
      epRecord({ id: 'e3', networkId: 'n1', host: 'h3' }),
    ],
    [hostRecord('h1', '192.168.0.1'), hostRecord('h2', '192.168.0.2'), hostRecord('h3', '192.168.0.3')],
  );
  return snap;
}

const code =
  (c: status, msg: RegExp) =>
  (err: unknown): boolean =>
    err instanceof VxError && err.code === c && msg.test(err.message);

describe('hosts: states, listing and removal', () => {
  it('lists every host with a record, a lease or endpoints; up only while it holds its lease', () => {
    const states: HostState[] = [
      { name: 'b', record: hostRecord('b', '10.0.0.2'), alive: { since: T0, ttlLeft: 7 }, endpoints: 2 },
      { name: 'a', record: hostRecord('a', '10.0.0.1'), downSince: T0, endpoints: 1 },
      { name: 'gone', endpoints: 3 }, // a removal cut short: endpoints of a host without a record
    ];
    const rows = hostEntries(states);
    assert.deepStrictEqual(
      rows.map((h) => [h.name, h.state, h.since, h.endpoints, h.leaseTtlLeft, h.vtep]),
      [
        ['a', 'unreachable', T0, 1, '-1', '10.0.0.1'],
        ['b', 'up', T0, 2, '7', '10.0.0.2'],
        ['gone', 'unreachable', '', 3, '-1', ''],
      ],
    );
  });

  it('the view gives the same states when etcd does not answer', () => {
    const snap = view();
    snap.alive.delete('h3');
    snap.down.set('h3', T0);
    const rows = hostEntries(hostStatesOfView(snap));
    assert.deepStrictEqual(
      rows.map((h) => [h.name, h.state, h.endpoints]),
      [
        ['h1', 'up', 1],
        ['h2', 'up', 1],
        ['h3', 'unreachable', 1],
      ],
    );
  });

  it('host rm: names checked first, then refused for this host, an unknown one and one that is up unless forced', async () => {
    const removed: string[] = [];
    const states: HostState[] = [
      { name: 'h1', record: hostRecord('h1', '10.0.0.1'), alive: { since: T0, ttlLeft: 5 }, endpoints: 0 },
      { name: 'h2', record: hostRecord('h2', '10.0.0.2'), alive: { since: T0, ttlLeft: 5 }, endpoints: 1 },
      { name: 'h3', record: hostRecord('h3', '10.0.0.3'), downSince: T0, endpoints: 2 },
    ];
    const svc = new HostService({
      store: {
        hostStates: async () => states,
        removeHost: async (name: string) => {
          removed.push(name);
          return name === 'h3' ? 2 : 1;
        },
      },
      self: 'h1',
      view: () => undefined,
      log: quietLog,
    });
    await assert.rejects(svc.remove('', false), code(status.INVALID_ARGUMENT, /required/));
    await assert.rejects(svc.remove('a/b', false), code(status.INVALID_ARGUMENT, /not a valid host name/));
    await assert.rejects(svc.remove('h1', true), code(status.FAILED_PRECONDITION, /own host/));
    await assert.rejects(svc.remove('h9', false), code(status.NOT_FOUND, /no host h9/));
    await assert.rejects(svc.remove('h2', false), code(status.FAILED_PRECONDITION, /is up .*--force/));
    assert.deepStrictEqual(removed, []);
    assert.strictEqual(await svc.remove('h3', false), 2);
    assert.strictEqual(await svc.remove('h2', true), 1);
    assert.deepStrictEqual(removed, ['h3', 'h2']);
  });
});

describe('hosts: liveness', () => {
  function rig(opts: { self?: string; deadMs?: number } = {}): {
    snap: ClusterView;
    live: Liveness;
    marked: string[];
    removed: string[];
    restored: number[];
  } {
    const snap = view();
    const marked: string[] = [];
    const removed: string[] = [];
    const restored: number[] = [];
    const live = new Liveness({
      store: {
        markDown: async (name: string, since: string) => {
          marked.push(name);
          snap.down.set(name, since);
          return true;
        },
        removeHost: async (name: string) => {
          removed.push(name);
          return 0;
        },
      },
      self: opts.self ?? 'h1',
      view: () => snap,
      registered: () => true,
      restore: async () => void restored.push(1),
      log: quietLog,
      deadHostTimeoutMs: opts.deadMs ?? 0,
      random: () => 0,
    });
    return { snap, live, marked, removed, restored };
  }
  const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

  it('marks a registered host without its lease down once, and never one that holds it', async () => {
    const x = rig();
    x.live.check();
    await turn();
    assert.deepStrictEqual(x.marked, []);
    x.snap.alive.delete('h3');
    x.live.check();
    x.live.check();
    await turn();
    x.live.check();
    await turn();
    assert.deepStrictEqual(x.marked, ['h3']);
  });

  it('a host that is back before the mark is written is not marked', async () => {
    const x = rig();
    x.snap.alive.delete('h3');
    x.live.check();
    x.snap.alive.set('h3', T0);
    await turn();
    assert.deepStrictEqual(x.marked, []);
  });

  it('with dead_host_timeout, the first up host by name removes hosts down for longer, one at a time', async () => {
    const now = Date.parse(T0) + 60_000;
    for (const self of ['h1', 'h2']) {
      const x = rig({ self, deadMs: 30_000 });
      x.snap.alive.delete('h3');
      x.snap.down.set('h3', new Date(now - 29_000).toISOString());
      x.live.check(now);
      await turn();
      assert.deepStrictEqual(x.removed, [], 'removed before its time');
      x.live.check(now + 2000);
      await turn();
      assert.deepStrictEqual(x.removed, self === 'h1' ? ['h3'] : [], self);
    }
    const off = rig();
    off.snap.alive.delete('h3');
    off.snap.down.set('h3', T0);
    off.live.check(now + 3_600_000);
    await turn();
    assert.deepStrictEqual(off.removed, [], 'removed with no timeout set');
  });

  it("this host's own record missing twice in a row is written again", async () => {
    const x = rig();
    x.snap.hosts.delete('h1');
    x.live.check();
    assert.strictEqual(x.restored.length, 0);
    x.live.check();
    assert.strictEqual(x.restored.length, 1);
  });
});

describe('etcd outage: silence, stale reads and what the API says', () => {
  it('a request is given up on after SILENCE_MS only if etcd has answered nothing meanwhile', () => {
    const h = new EtcdHealth();
    const start = 1_000_000;
    h.answered(start - 5000);
    assert.strictEqual(h.silent(start, start + SILENCE_MS - 1), false);
    assert.strictEqual(h.silent(start, start + SILENCE_MS), true);
    h.answered(start + 500); // a probe's answer: etcd is there, only slow
    assert.strictEqual(h.silent(start, start + SILENCE_MS + 100), false);
    assert.strictEqual(h.silent(start, start + 500 + SILENCE_MS), true);
  });

  it('reads fall back to the view, marked stale, only when etcd is away; writes say what the agent still does', async () => {
    const snap = view();
    const health = new EtcdHealth();
    health.answered(Date.now() - 12_000);
    const o = new EtcdOutage({ health }, () => snap, 'h1');
    const fromView = (_s: ClusterView, note: string): string => note;
    assert.strictEqual(await o.read(async () => 'etcd', fromView), 'etcd');
    assert.match(
      await o.read(() => Promise.reject(etcdUnavailable('etcd is not answering')), fromView),
      /host h1's view of the cluster, 12 s old/,
    );
    await assert.rejects(
      o.read(() => Promise.reject(unavailable('etcd refused the request')), fromView),
      /refused/,
    );
    const net = o.inspectNetwork(snap, 'n1', 'stale');
    assert.strictEqual(net.stale, 'stale');
    assert.strictEqual(net.endpoints?.length, 3);
    assert.match(
      o.explain('etcd is not answering'),
      /^etcd is not answering; its last answer came 12 s ago .*Host h1 keeps forwarding for its 1 local endpoint\(s\) from its view at revision 1/,
    );
  });
});
