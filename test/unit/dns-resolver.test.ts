import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Registry } from 'prom-client';
import { registerDnsMetrics } from '../../agent/dns/metrics';
import { Resolver } from '../../agent/dns/resolver';
import type { DnsConfig } from '../../agent/dns/resolver';
import { DnsStats } from '../../agent/dns/stats';
import { quietLog } from '../helpers/fakes';

const config = (over: Partial<DnsConfig>): DnsConfig => ({
  domain: 'vxnet',
  ttl: 2,
  port: 53,
  resolvConf: '/nonexistent',
  upstreams: [],
  upstreamTimeoutMs: 1000,
  cacheSize: 10,
  maxInFlight: 10,
  ...over,
});

describe('dns resolver settings and metrics', function () {
  this.timeout(10_000);

  it('reads the upstreams of its resolv.conf again when the file is replaced; a list wins over it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxnet-resolv-'));
    const file = path.join(dir, 'resolv.conf');
    fs.writeFileSync(file, 'nameserver 198.51.100.1\n');
    const r = new Resolver(quietLog);
    try {
      r.configure(config({ resolvConf: file }));
      assert.deepStrictEqual(r.upstreams(), [{ address: '198.51.100.1', port: 53 }]);
      // replaced by a rename, as DHCP clients and systemd-resolved do
      fs.writeFileSync(`${file}.new`, 'nameserver 198.51.100.2\nnameserver 198.51.100.3\n');
      fs.renameSync(`${file}.new`, file);
      const deadline = Date.now() + 5000;
      while (r.upstreams()[0]?.address !== '198.51.100.2' && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 50));
      assert.deepStrictEqual(
        r.upstreams().map((u) => u.address),
        ['198.51.100.2', '198.51.100.3'],
      );
      r.configure(config({ resolvConf: file, upstreams: ['192.0.2.1:5353'] }));
      assert.deepStrictEqual(r.upstreams(), [{ address: '192.0.2.1', port: 5353 }]);
    } finally {
      r.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exposes the resolver's counters and its latency histogram as Prometheus metrics", async () => {
    const stats = new DnsStats();
    stats.answered('A', 'NOERROR', 0.0002);
    stats.answered('A', 'NOERROR', 0.003);
    stats.answered('AAAA', 'NXDOMAIN', 0.0001);
    stats.upstreamFailed('198.51.100.1:53', 'timeout');
    stats.forwarded = 4;
    stats.inFlight = 1;
    const registry = new Registry();
    registerDnsMetrics(registry, () => Promise.resolve(stats.snapshot()));
    const text = await registry.metrics();
    assert.match(text, /^vxnet_dns_queries_total\{type="A",rcode="NOERROR"\} 2$/m);
    assert.match(text, /^vxnet_dns_queries_total\{type="AAAA",rcode="NXDOMAIN"\} 1$/m);
    assert.match(text, /^vxnet_dns_forwarded_total 4$/m);
    assert.match(text, /^vxnet_dns_upstream_failures_total\{upstream="198\.51\.100\.1:53",reason="timeout"\} 1$/m);
    assert.match(text, /^vxnet_dns_in_flight 1$/m);
    assert.match(text, /^# TYPE vxnet_dns_latency_seconds histogram$/m);
    assert.match(text, /^vxnet_dns_latency_seconds_bucket\{le="0\.00025"\} 2$/m);
    assert.match(text, /^vxnet_dns_latency_seconds_bucket\{le="\+Inf"\} 3$/m);
    assert.match(text, /^vxnet_dns_latency_seconds_count 3$/m);
    // the resolver not answering: the metrics are there, with no values
    const empty = new Registry();
    registerDnsMetrics(empty, () => Promise.resolve(undefined));
    assert.match(await empty.metrics(), /^# TYPE vxnet_dns_queries_total counter$/m);
  });
});
