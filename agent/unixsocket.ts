import * as fs from 'fs';
import type * as net from 'net';
import * as path from 'path';

// Listens on a unix socket path for the agent's plugin endpoints (CNI shim, Docker): a socket left
// by an agent that died is replaced (anything else at the path is not), the directory is made, and
// only root may connect.
export async function listenUnix(server: net.Server, socket: string): Promise<void> {
  fs.mkdirSync(path.dirname(socket), { recursive: true });
  try {
    if (fs.lstatSync(socket).isSocket()) fs.unlinkSync(socket);
  } catch {
    /* not there */
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  fs.chmodSync(socket, 0o600);
}
