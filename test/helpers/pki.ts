import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// Throwaway certificates made with openssl for TLS tests: a CA, and leaf certificates it signs.
export interface Pki {
  dir: string;
  ca(name: string): { cert: string; key: string };
  leaf(ca: string, name: string, opts?: { ip?: string; dns?: string; client?: boolean }): { cert: string; key: string };
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makePki(): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-pki-'));
  return {
    dir,
    ca(name) {
      const key = path.join(dir, `${name}.key`);
      const cert = path.join(dir, `${name}.crt`);
      openssl(
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '2',
          '-subj',
          `/CN=${name}`,
        ],
        dir,
      );
      return { cert, key };
    },
    leaf(ca, name, opts = {}) {
      const key = path.join(dir, `${name}.key`);
      const csr = path.join(dir, `${name}.csr`);
      const cert = path.join(dir, `${name}.crt`);
      const ext = path.join(dir, `${name}.ext`);
      const san = [opts.ip ? `IP:${opts.ip}` : '', opts.dns ? `DNS:${opts.dns}` : ''].filter(Boolean).join(',');
      fs.writeFileSync(
        ext,
        `${san ? `subjectAltName=${san}\n` : ''}extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth,clientAuth'}\n`,
      );
      openssl(
        [
          'req',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          csr,
          '-subj',
          `/CN=${name}`,
        ],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          path.join(dir, `${ca}.crt`),
          '-CAkey',
          path.join(dir, `${ca}.key`),
          '-CAcreateserial',
          '-out',
          cert,
          '-days',
          '2',
          '-extfile',
          ext,
        ],
        dir,
      );
      return { cert, key };
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
