import * as assert from 'assert';
import { Metrics, MetricSources } from '../../agent/metrics';

function sources(over: Partial<MetricSources> = {}): MetricSources {
  return {
    kernelOps: () => ({}),
    endpoints: () => [],
    peerHosts: () => 1,
    lease: () => ({ renewals: 4, losses: 1, held: true }),
    hosts: () => [
      { name: 'h1', alive: true },
      { name: 'h2', alive: false },
    ],
    etcdReachable: () => false,
    watchEvents: () => 0,
    etcdRequests: () => 0,
    ready: () => ({ ok: true, reason: '' }),
    ...over,
  };
}

const run = { clean: true, durationMs: 2, strategy: 'full' as const, resync: false, applied: 0 };

describe('agent metrics', () => {
  it('the lease, each host seen and etcd reachability as gauges', async () => {
    const text = await new Metrics(sources()).registry.metrics();
    assert.match(text, /^vxnet_lease_held 1$/m);
    assert.match(text, /^vxnet_host_lease_alive\{host="h1"\} 1$/m);
    assert.match(text, /^vxnet_host_lease_alive\{host="h2"\} 0$/m);
    assert.match(text, /^vxnet_etcd_up 0$/m);
  });

  it('counts a drift repair only for a periodic resync that changed something', async () => {
    const m = new Metrics(sources());
    m.afterRun({ ...run, applied: 3 }); // a watch-triggered run: our own change
    m.afterRun({ ...run, resync: true }); // a resync that found nothing
    assert.match(await m.registry.metrics(), /^vxnet_drift_repairs_total 0$/m);
    m.afterRun({ ...run, resync: true, applied: 2 });
    assert.match(await m.registry.metrics(), /^vxnet_drift_repairs_total 1$/m);
  });

  it('API requests by method and code, and the latency of unary ones by method', async () => {
    const m = new Metrics(sources());
    m.request('List', 'OK', 0.002);
    m.request('Inspect', 'NOT_FOUND', 0.001);
    m.request('Watch', 'OK');
    const text = await m.registry.metrics();
    assert.match(text, /^vxnet_api_requests_total\{method="Watch",code="OK"\} 1$/m);
    assert.match(text, /^vxnet_api_request_duration_seconds_count\{method="List"\} 1$/m);
    assert.match(text, /^vxnet_api_request_duration_seconds_count\{method="Inspect"\} 1$/m);
    assert.doesNotMatch(text, /duration_seconds_count\{method="Watch"\}/);
  });
});
