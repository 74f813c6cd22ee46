import { EtcdAuthError, EtcdTlsError, oneLine } from '../control/store/errors';
import type { Store } from '../control/store/store';
import type { Logger } from '../lib/log';
import { ConfigError } from './config';
import type { AgentConfig } from './config';

// A wrong certificate, CA or password will not fix itself: stop at start with the key to change
// (exit 78) instead of retrying forever. An etcd that is merely unreachable is waited for.
export async function probeEtcd(store: Pick<Store, 'revision'>, e: AgentConfig['etcd'], log: Logger): Promise<void> {
  try {
    await store.revision();
  } catch (err) {
    const msg = oneLine((err as Error).message);
    if (err instanceof EtcdAuthError)
      throw new ConfigError(
        `etcd.username/etcd.password: etcd refused the credentials of user "${e.username}": ${msg}`,
      );
    if (err instanceof EtcdTlsError && err.kind === 'untrusted')
      throw new ConfigError(
        `etcd.ca_file: the certificate of etcd at ${e.endpoints.join(',')} is not trusted by ${e.caFile || 'the system CAs'}: ${msg}`,
      );
    if (err instanceof EtcdTlsError && err.kind === 'client-cert') {
      throw new ConfigError(
        `etcd.cert_file: etcd at ${e.endpoints.join(',')} refused ${e.certFile ? `the client certificate ${e.certFile}` : 'the connection without a client certificate'}: ${msg}`,
      );
    }
    if (err instanceof EtcdTlsError && err.kind === 'plaintext')
      throw new ConfigError(
        `etcd.endpoints: TLS and plain-text do not match between ${e.endpoints.join(',')} and ${e.caFile ? 'etcd.ca_file (set)' : 'no etcd.ca_file'}: ${msg}`,
      );
    log.warn('etcd is not reachable yet; waiting for it', { error: msg });
  }
}
