import * as assert from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import { status } from '@grpc/grpc-js';
import { VxClient } from '../../control/client';
import type { EtcdCluster } from '../helpers/etcd';
import { TestAgent } from '../helpers/agent';
import { LoopbackCluster, printLogsIfFailed, startCluster, stopCluster } from '../helpers/cluster';
import { makePki, Pki } from '../helpers/pki';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('API security: unix socket permissions and mutual TLS on TCP', function () {
  this.timeout(60000);
  let cl: LoopbackCluster | undefined;
  let etcd: EtcdCluster;
  let pki: Pki;
  let agent: TestAgent;
  let port: number;

  // The agent's TCP listener serves the certificates made here, so they come before the cluster.
  before(async () => {
    pki = makePki();
    pki.ca('ca');
    pki.ca('rogue');
    const server = pki.leaf('ca', 'server', { ip: '127.0.0.1' });
    pki.leaf('ca', 'client', { client: true });
    pki.leaf('rogue', 'intruder', { client: true });
    port = await freePort();
    cl = await startCluster({
      hosts: ['sec1'],
      agent: {
        extra: [
          '--tcp',
          `127.0.0.1:${port}`,
          '--tls-cert',
          server.cert,
          '--tls-key',
          server.key,
          '--tls-client-ca',
          `${pki.dir}/ca.crt`,
        ],
      },
    });
    ({
      etcd,
      agents: [agent],
    } = cl);
  });

  afterEach(function () {
    printLogsIfFailed(this.currentTest, cl);
  });

  after(async () => {
    await stopCluster(cl);
    pki?.cleanup();
  });

  const client = (files: { ca?: string; cert?: string; key?: string }): VxClient =>
    new VxClient(`tcp://127.0.0.1:${port}`, {
      ca: files.ca ? fs.readFileSync(files.ca) : undefined,
      cert: files.cert ? fs.readFileSync(files.cert) : undefined,
      key: files.key ? fs.readFileSync(files.key) : undefined,
    });

  it('the unix socket is mode 0600', () => {
    assert.strictEqual(fs.statSync(agent.socket).mode & 0o777, 0o600);
  });

  it('a client with a certificate from the right CA is served over TCP', async () => {
    const c = client({ ca: `${pki.dir}/ca.crt`, cert: `${pki.dir}/client.crt`, key: `${pki.dir}/client.key` });
    try {
      const h = await c.check({}, { deadlineMs: 5000 });
      assert.strictEqual(h.status, 'SERVING');
      await c.list({}, { deadlineMs: 5000 });
    } finally {
      c.close();
    }
  });

  it('a client without a certificate, or with one from another CA, is refused', async () => {
    for (const files of [
      { ca: `${pki.dir}/ca.crt` },
      { ca: `${pki.dir}/ca.crt`, cert: `${pki.dir}/intruder.crt`, key: `${pki.dir}/intruder.key` },
    ]) {
      const c = client(files);
      try {
        await assert.rejects(
          c.list({}, { deadlineMs: 3000 }),
          (e: { code: status }) => e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED,
        );
      } finally {
        c.close();
      }
    }
  });

  it('the agent refuses to serve TCP without TLS: exit 78 naming the missing key', async () => {
    // Not one of the cluster's agents: its failed start is the check.
    const bad = new TestAgent({
      name: 'sec2',
      etcd: etcd.clientUrls,
      vtep: '127.0.0.1',
      extra: ['--tcp', '127.0.0.1:1'],
    });
    await assert.rejects(bad.start(5000), /exited \(78\)[\s\S]*api\.cert_file/);
    bad.cleanup();
  });
});
