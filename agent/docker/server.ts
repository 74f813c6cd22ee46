import * as http from 'http';
import { VxError } from '../../control/errors';
import type { Logger } from '../../lib/log';
import { listenUnix } from '../unixsocket';
import type { DockerDriver } from './driver';
import { CONTENT_TYPE } from './wire';

type Handler = (body: never) => unknown;

// Docker's plugin protocol on a unix socket: POST /<Interface>.<Method> with a JSON body, HTTP 200
// with a JSON answer. Errors go in the answer's body, in the field Docker reads for that interface:
// "Err" for NetworkDriver (Docker prints it after "Error response from daemon: remote:"), "Error"
// for IpamDriver (an "Err" there is ignored and reads as "No address returned").
export class DockerPluginServer {
  private server: http.Server | undefined;
  private readonly routes: Record<string, Handler>;

  constructor(
    driver: DockerDriver,
    private readonly log: Logger,
  ) {
    this.routes = {
      '/Plugin.Activate': () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
      '/NetworkDriver.GetCapabilities': () => driver.capabilities(),
      '/NetworkDriver.CreateNetwork': (b) => driver.createNetwork(b),
      '/NetworkDriver.DeleteNetwork': (b) => driver.deleteNetwork(b),
      '/NetworkDriver.CreateEndpoint': (b) => driver.createEndpoint(b),
      '/NetworkDriver.DeleteEndpoint': (b) => driver.deleteEndpoint(b),
      '/NetworkDriver.EndpointOperInfo': (b) => driver.endpointInfo(b),
      '/NetworkDriver.Join': (b) => driver.join(b),
      '/NetworkDriver.Leave': () => driver.leave(),
      '/NetworkDriver.DiscoverNew': () => ({}),
      '/NetworkDriver.DiscoverDelete': () => ({}),
      '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
      '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
      '/IpamDriver.GetCapabilities': () => driver.ipamCapabilities(),
      '/IpamDriver.GetDefaultAddressSpaces': () => driver.addressSpaces(),
      '/IpamDriver.RequestPool': (b) => driver.requestPool(b),
      '/IpamDriver.ReleasePool': () => driver.releasePool(),
      '/IpamDriver.RequestAddress': (b) => driver.requestAddress(b),
      '/IpamDriver.ReleaseAddress': (b) => driver.releaseAddress(b),
    };
  }

  async listen(socket: string): Promise<void> {
    this.server = http.createServer((req, res) => this.serve(req, res));
    // Docker keeps connections open between calls and only it may close an idle one: when Node's
    // keep-alive timeout closed one just as dockerd sent a call on it, dockerd saw "connection
    // reset", retried a second later with an empty body (its plugin client does not rewind the
    // request) and a `docker run` failed with "pool undefined". close() drops them when stopping.
    this.server.keepAliveTimeout = 0;
    await listenUnix(this.server, socket);
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    // dockerd gone mid-request (restarted, killed): nothing to answer, and nothing to crash over.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      void this.answer(req.url ?? '', Buffer.concat(chunks).toString()).then(({ code, body }) => {
        res.writeHead(code, { 'Content-Type': CONTENT_TYPE });
        res.end(JSON.stringify(body));
      });
    });
  }

  async answer(url: string, raw: string): Promise<{ code: number; body: unknown }> {
    const errField = url.startsWith('/IpamDriver.') ? 'Error' : 'Err';
    const route = this.routes[url];
    if (!route) return { code: 404, body: { [errField]: `vxnet does not implement ${url.slice(1) || 'this call'}` } };
    const t = performance.now();
    try {
      let body: unknown = {};
      if (raw.trim()) {
        try {
          body = JSON.parse(raw);
        } catch {
          return { code: 400, body: { [errField]: `${url.slice(1)}: the request body is not JSON` } };
        }
      }
      const out = await route(body as never);
      this.log.debug('docker call', { call: url.slice(1), ms: Math.round((performance.now() - t) * 100) / 100 });
      return { code: 200, body: out };
    } catch (err) {
      const msg = (err as Error).message;
      if (err instanceof VxError) this.log.info('docker call refused', { call: url.slice(1), reason: msg });
      else this.log.error('docker call failed', { call: url.slice(1), error: msg });
      return { code: 200, body: { [errField]: msg } };
    }
  }
}
