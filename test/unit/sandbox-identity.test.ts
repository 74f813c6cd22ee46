import * as assert from 'assert';
import type { EndpointRecord, NetnsIdentity } from '../../control/model';
import { fateReason, sandboxFate } from '../../agent/sandbox-identity';
import type { PathIdentity } from '../../agent/sandbox-identity';
import { SandboxWatch } from '../../agent/sandbox-watch';
import { cniEndpointName } from '../../agent/cni';
import { createLogger } from '../../lib/log';
import { epRecord } from '../helpers/records';

describe('sandbox identity (pure)', () => {
  const connected: NetnsIdentity = { dev: 4, ino: 4026532301 };

  it('the same namespace under the path is the same sandbox', () => {
    assert.strictEqual(sandboxFate(connected, { dev: 4, ino: 4026532301 }), 'same');
  });

  it('a path that now names another namespace (PID taken over, netns re-created or bind-mounted over) means the sandbox is gone', () => {
    assert.strictEqual(sandboxFate(connected, { dev: 4, ino: 4026532999 }), 'gone');
    assert.strictEqual(sandboxFate(connected, { dev: 5, ino: 4026532301 }), 'gone');
    // A /run/netns/NAME unmounted but not removed: the empty file on the tmpfs.
    assert.strictEqual(sandboxFate(connected, { dev: 24, ino: 77 }), 'gone');
    assert.match(fateReason(connected, { dev: 4, ino: 4026532999 }), /names another network namespace/);
  });

  it('a path with nothing there means the sandbox is gone, with or without a recorded identity', () => {
    assert.strictEqual(sandboxFate(connected, undefined), 'gone');
    assert.strictEqual(sandboxFate(undefined, undefined), 'gone');
    assert.match(fateReason(connected, undefined), /no longer exists/);
  });

  it('a record without an identity (older version) cannot be judged by a namespace that is there', () => {
    assert.strictEqual(sandboxFate(undefined, { dev: 4, ino: 4026532301 }), 'unknown');
  });

  it('a path only the runtime could see proves nothing either way, except the same namespace', () => {
    const hidden: NetnsIdentity = { ...connected, hidden: true };
    assert.strictEqual(sandboxFate(hidden, undefined), 'unknown');
    assert.strictEqual(sandboxFate(hidden, { dev: 4, ino: 1 }), 'unknown');
    assert.strictEqual(sandboxFate(hidden, { dev: 4, ino: 4026532301 }), 'same');
  });
});

describe('sandbox watch (pure, fake paths)', () => {
  const ep = (id: string, over: Partial<EndpointRecord>): EndpointRecord =>
    epRecord({
      id,
      networkId: 'n',
      host: 'h1',
      mac: '02:00:00:00:00:01',
      ipv4: '10.0.0.2/24',
      netns: { dev: 4, ino: 100 },
      ...over,
    });
  const eps = [
    ep('alive', {}),
    ep('ended', { sandbox: '/proc/41/ns/net' }),
    ep('replaced', { sandbox: '/run/netns/replaced' }),
    ep('remote', { host: 'h2', sandbox: '/run/netns/nothing-here' }),
    ep('docker', { sandbox: '', docker: { networkId: 'd', endpointId: 'e' } }),
    ep('old', { netns: undefined }),
    ep('hidden', { sandbox: '/run/netns/in-podman', netns: { dev: 4, ino: 100, hidden: true } }),
    ep('busy', { sandbox: '/proc/42/ns/net' }),
  ];
  const paths = new Map<string, PathIdentity>([
    ['/run/netns/alive', { dev: 4, ino: 100 }],
    ['/run/netns/replaced', { dev: 4, ino: 101 }],
    ['/run/netns/old', { dev: 4, ino: 555 }],
  ]);

  it('finds the local sandboxes that ended or whose path names another namespace, and only those', async () => {
    const released: string[] = [];
    let version = 1;
    const w = new SandboxWatch(
      {
        version: () => version,
        endpoints: () => eps,
        host: 'h1',
        busy: () => new Set(['busy']),
        identify: (p) => paths.get(p),
        release: (e) => {
          released.push(e.id);
          return Promise.resolve();
        },
      },
      createLogger({ level: 'error' }),
    );
    await w.tick();
    assert.deepStrictEqual(released, ['ended', 'replaced']);
    // The list of local endpoints is kept until the view changes.
    paths.set('/run/netns/alive', undefined);
    eps.push(ep('new', { sandbox: '/proc/43/ns/net' }));
    assert.deepStrictEqual(
      w.gone().map((e) => e.id),
      ['alive', 'ended', 'replaced'],
    );
    version++;
    assert.deepStrictEqual(
      w.gone().map((e) => e.id),
      ['alive', 'ended', 'replaced', 'new'],
    );
  });
});

describe('CNI endpoint names (pure)', () => {
  it('carry the host, so the same container ID and interface on two hosts are two names', () => {
    assert.strictEqual(cniEndpointName('host1', 'default-web', 'eth0'), 'cni-host1-default-web-eth0');
    assert.notStrictEqual(
      cniEndpointName('host1', 'default-web', 'eth0'),
      cniEndpointName('host2', 'default-web', 'eth0'),
    );
    assert.strictEqual(cniEndpointName('node a', 'k8s/pod', 'net1'), 'cni-node_a-k8s_pod-net1');
    assert.strictEqual(cniEndpointName('h', 'f'.repeat(64), 'eth0'), `cni-h-${'f'.repeat(24)}-eth0`);
  });
});

describe('sandbox watch: a release that fails', () => {
  it('is tried again every round and warned of once', async () => {
    const warned: string[] = [];
    let fail = true;
    let tries = 0;
    const ep = epRecord({
      id: 'x',
      networkId: 'n',
      host: 'h1',
      sandbox: '/proc/9/ns/net',
      mac: '',
      netns: { dev: 4, ino: 1 },
    });
    const log = { ...createLogger({ level: 'error' }), warn: (msg: string) => void warned.push(msg) };
    const w = new SandboxWatch(
      {
        version: () => 1,
        endpoints: () => [ep],
        host: 'h1',
        busy: () => new Set(),
        identify: () => undefined,
        release: () => {
          tries++;
          return fail ? Promise.reject(new Error('etcd unavailable')) : Promise.resolve();
        },
      },
      log,
    );
    await w.tick();
    await w.tick();
    await w.tick();
    assert.strictEqual(tries, 3);
    assert.strictEqual(warned.length, 1);
    fail = false;
    await w.tick();
    assert.strictEqual(tries, 4);
  });
});
