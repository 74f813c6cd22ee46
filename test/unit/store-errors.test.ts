import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { BrokenCircuitError } from 'cockatiel';
import {
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCProtocolError,
  GRPCUnavailableError,
} from 'etcd3';
import { EtcdAuthError, EtcdTlsError, neverSent, oneLine, storeError } from '../../control/store/errors';
import type { VxError } from '../../control/errors';

// Errors of the calls the agent makes by hand on grpc-js (loads, watch): what an operator reads.
describe('storeError for grpc-js call errors', () => {
  it('etcd away or slow: UNAVAILABLE, "unreachable or not answering"', () => {
    const e = storeError(
      Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
        code: status.UNAVAILABLE,
        details: 'No connection established',
      }),
    );
    assert.strictEqual(e.code, status.UNAVAILABLE);
    assert.match(e.message, /unreachable or not answering: No connection established/);
  });
  it('etcd refusing (permissions): UNAVAILABLE to the caller, but the message says what etcd said', () => {
    const e = storeError(
      Object.assign(new Error('7 PERMISSION_DENIED'), {
        code: status.PERMISSION_DENIED,
        details: 'etcdserver: permission denied',
      }),
    );
    assert.strictEqual(e.code, status.UNAVAILABLE);
    assert.match(e.message, /refused the request \(PERMISSION_DENIED\): etcdserver: permission denied/);
  });
  it('anything else: INTERNAL with its message', () => {
    const e = storeError(new Error('boom'));
    assert.strictEqual(e.code, status.INTERNAL);
    assert.match(e.message, /boom/);
  });
});

// The texts etcd, etcd3 and grpc-js give for each misconfiguration, as the agent received them from
// an etcd started with TLS and client-certificate authentication, or with a user and password.
describe('etcd failures by kind (control/store/errors)', () => {
  const noConnection = (last: string): Error =>
    new GRPCUnavailableError(`14 UNAVAILABLE: No connection established. Last error: ${last}. Resolution note: `);
  const seen: [string, Error, (e: VxError) => boolean][] = [
    [
      'a wrong password',
      new EtcdAuthenticationFailedError(
        '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password',
      ),
      (e) => e instanceof EtcdAuthError,
    ],
    [
      'a user etcd does not know',
      new EtcdAuthenticationFailedError('3 INVALID_ARGUMENT: etcdserver: user name is empty'),
      (e) => e instanceof EtcdAuthError,
    ],
    [
      'missing permissions',
      new EtcdPermissionDeniedError('7 PERMISSION_DENIED: etcdserver: permission denied'),
      (e) => e instanceof EtcdAuthError,
    ],
    [
      'no client certificate',
      noConnection(
        '808C02882C7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-03T12:31:11.556Z)',
      ),
      (e) => e instanceof EtcdTlsError && e.kind === 'client-cert',
    ],
    [
      'a client certificate of TLS 1.3 refused',
      noConnection(
        'Error: 00F8E4B3A37F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 116',
      ),
      (e) => e instanceof EtcdTlsError && e.kind === 'client-cert',
    ],
    [
      "etcd's certificate from another CA",
      noConnection('Error: unable to verify the first certificate'),
      (e) => e instanceof EtcdTlsError && e.kind === 'untrusted',
    ],
    [
      'a self-signed certificate',
      noConnection('Error: self-signed certificate in certificate chain'),
      (e) => e instanceof EtcdTlsError && e.kind === 'untrusted',
    ],
    [
      'a certificate for another address',
      noConnection(
        "Error: Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1",
      ),
      (e) => e instanceof EtcdTlsError && e.kind === 'untrusted',
    ],
    [
      'TLS to a plain-text port (OpenSSL)',
      noConnection('Error: 40C8A1E1E67F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'),
      (e) => e instanceof EtcdTlsError && e.kind === 'plaintext',
    ],
    [
      'plain text to a TLS port (HTTP/2)',
      new GRPCProtocolError('13 INTERNAL: Protocol error'),
      (e) => e instanceof EtcdTlsError && e.kind === 'plaintext',
    ],
    // Not told apart today: etcd merely unreachable, as far as the agent can tell, so it waits.
    [
      'TLS to a plain-text port (socket closed)',
      noConnection('Error: Client network socket disconnected before secure TLS connection was established'),
      (e) => !(e instanceof EtcdTlsError) && !(e instanceof EtcdAuthError),
    ],
    [
      'plain text to a TLS port (no answer)',
      noConnection('Failed to connect (2026-12-03T12:31:20.107Z)'),
      (e) => !(e instanceof EtcdTlsError) && !(e instanceof EtcdAuthError),
    ],
    [
      'etcd away',
      noConnection('Error: connect ECONNREFUSED 127.0.0.1:2379'),
      (e) => !(e instanceof EtcdTlsError) && !(e instanceof EtcdAuthError),
    ],
  ];
  for (const [what, err, kind] of seen) {
    it(`${what}: UNAVAILABLE, of its kind, with etcd's words`, () => {
      const e = storeError(err);
      assert.strictEqual(e.code, status.UNAVAILABLE);
      assert.ok(kind(e), `${e.constructor.name} ${(e as { kind?: string }).kind ?? ''}`);
      assert.ok(oneLine(e.message).includes(oneLine(err.message).replace(/ Resolution note:.*$/, '')), e.message);
    });
  }

  it('classifies calls made by hand on grpc-js too', () => {
    const e = storeError(
      Object.assign(new Error('16 UNAUTHENTICATED'), {
        code: status.UNAUTHENTICATED,
        details: 'etcdserver: authentication failed, invalid user ID or password',
      }),
    );
    assert.ok(e instanceof EtcdAuthError);
  });

  it('one line, without the resolution note', () => {
    assert.strictEqual(
      oneLine('No connection established. Last error: x\n (t). Resolution note: '),
      'No connection established. Last error: x (t).',
    );
  });

  const sent: [string, unknown, boolean][] = [
    ['an open breaker', new BrokenCircuitError(), true],
    [
      'no connection',
      new GRPCUnavailableError(
        '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379',
      ),
      true,
    ],
    [
      'no socket',
      new GRPCUnavailableError(
        '14 UNAVAILABLE: No connection established. Last error: Error: connect ENOENT /run/etcd.sock',
      ),
      true,
    ],
    ['a deadline passed', new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED: Deadline exceeded'), false],
    ['a connection dropped mid-call', new GRPCUnavailableError('14 UNAVAILABLE: Connection dropped'), false],
    ['not an error', 'ECONNREFUSED', false],
  ];
  for (const [what, err, never] of sent)
    it(`never sent, so safe to retry: ${what} ${never ? 'is' : 'is not'}`, () =>
      assert.strictEqual(neverSent(err), never));
});
