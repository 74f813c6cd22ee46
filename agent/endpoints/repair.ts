import { addressesOf } from '../../control/model';
import type { EndpointRecord } from '../../control/model';
import type { DockerEndpoints } from '../docker/endpoints';
import { gatewaysOf } from '../desired';
import type { Repairer } from '../reconciler';
import { fateReason, sandboxFate } from '../sandbox-identity';
import type { SandboxFate } from '../sandbox-identity';
import { attachmentOf } from './attach';
import { settledFor } from './deps';
import type { EndpointDeps } from './deps';

// What the reconciler finds wrong with a local endpoint, put right: a veth gone (the sandbox ended,
// or someone deleted it) and, at full resyncs, what was changed inside the sandbox.
export class SandboxRepair implements Repairer {
  constructor(
    private readonly d: EndpointDeps,
    private readonly docker: Pick<DockerEndpoints, 'repair' | 'verify'>,
    // A Connect given up on: its record, if it lands, is deleted, never re-attached.
    private readonly abandoned: (id: string) => boolean = () => false,
  ) {}

  async verifySandbox(ep: EndpointRecord): Promise<string[]> {
    if (this.d.ops.has(ep.id) || this.abandoned(ep.id)) return [];
    if (ep.docker) return this.docker.verify(ep);
    const fate = this.fateOf(ep);
    if (fate.fate === 'gone') {
      await this.releaseGone(ep, fate.reason);
      return ['released the endpoint of a sandbox that is gone'];
    }
    const net = this.d.state.snap?.networks.get(ep.networkId);
    const gw = net && !net.internal && ep.ipv4 ? gatewaysOf(net).v4 : undefined;
    // Unverified (older record, hidden path): only an interface with the endpoint's MAC, the peer
    // of its veth, is taken for the endpoint's.
    const expect = fate.fate === 'same' ? { netns: ep.netns } : { mac: ep.mac };
    return this.d.sandboxes.ensureInside(ep.sandbox, ep.ifname, addressesOf(ep), gw, expect);
  }

  // The veth of a local endpoint is gone: the sandbox went away while we were not looking (release
  // the endpoint), or someone deleted the veth (attach it again, as Connect did).
  async repair(ep: EndpointRecord): Promise<void> {
    const { state, sandboxes, self } = this.d;
    // Checked again now: the endpoint may have been disconnected or (re)connected since the diff.
    if (this.d.ops.has(ep.id) || this.abandoned(ep.id) || !state.snap?.endpoints.has(ep.id)) return;
    if (ep.docker) return this.docker.repair(ep);
    const { fate, reason } = this.fateOf(ep);
    let gone = fate === 'gone' ? reason : '';
    if (!gone) {
      try {
        sandboxes.check(ep.sandbox);
      } catch (err) {
        gone = (err as Error).message;
      }
    }
    if (gone) return this.releaseGone(ep, gone);
    const net = state.snap?.networks.get(ep.networkId);
    if (!net) return;
    const netns = fate === 'same' ? ep.netns : undefined;
    if ((await sandboxes.interfaces(ep.sandbox, netns)).includes(ep.ifname)) return; // its peer still lives there: leave it
    // A veth dies with its namespace, so a missing one most often means the sandbox ended. A
    // record without an identity (written by an older version) cannot tell the namespace now under
    // its path from the one it was connected in: released rather than attached into a stranger's.
    if (fate !== 'same')
      return this.releaseGone(
        ep,
        'the endpoint was recorded without its namespace identity and its veth is gone: the namespace under its path may be another one',
      );
    // The re-attach has only ever given back the IPv4 default route.
    const lacksRoute = async (family: 4 | 6): Promise<boolean> =>
      family === 4 && !(await sandboxes.hasDefaultRoute(ep.sandbox, 4, netns));
    await sandboxes.attach(await attachmentOf(self, net, ep, { sandbox: ep.sandbox, netns }, lacksRoute));
    this.d.log.info('endpoint re-attached', { endpoint: ep.name, sandbox: ep.sandbox });
  }

  // What the sandbox's path says now of the namespace the endpoint was connected in.
  private fateOf(ep: EndpointRecord): { fate: SandboxFate; reason: string } {
    const now = this.d.sandboxes.identify(ep.sandbox);
    return { fate: sandboxFate(ep.netns, now), reason: fateReason(ep.netns, now) };
  }

  // The sandbox ended (or its path names another namespace now): the endpoint is released, its
  // address free again; the reconciler then removes the veth if it is still there. Busy meanwhile,
  // so that the reconciler and the sandbox watch do not release it twice.
  private async releaseGone(ep: EndpointRecord, reason: string): Promise<void> {
    const { state, store, ops } = this.d;
    if (ops.has(ep.id) || !state.snap?.endpoints.has(ep.id)) return;
    ops.begin(ep.id);
    try {
      // Logged once it is done: a failed release (etcd away) is tried again at every look.
      state.applyLocalEndpoint(ep, true, await store.deleteEndpoint(ep));
      this.d.log.info('sandbox is gone, releasing its endpoint', {
        endpoint: ep.name,
        sandbox: ep.sandbox,
        ip: ep.ipv4 || ep.ipv6,
        reason,
      });
    } finally {
      ops.end(ep.id);
    }
    settledFor(this.d, ep, true);
  }
}
