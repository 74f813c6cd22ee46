import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { storeError } from '../../control/store/store';

// Errors of the calls the agent makes by hand on grpc-js (loads, watch): what an operator reads.
describe('storeError for grpc-js call errors', () => {
  it('etcd away or slow: UNAVAILABLE, "unreachable or not answering"', () => {
    const e = storeError(Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: status.UNAVAILABLE, details: 'No connection established' }));
    assert.strictEqual(e.code, status.UNAVAILABLE);
    assert.match(e.message, /unreachable or not answering: No connection established/);
  });
  it('etcd refusing (permissions): UNAVAILABLE to the caller, but the message says what etcd said', () => {
    const e = storeError(Object.assign(new Error('7 PERMISSION_DENIED'), { code: status.PERMISSION_DENIED, details: 'etcdserver: permission denied' }));
    assert.strictEqual(e.code, status.UNAVAILABLE);
    assert.match(e.message, /refused the request \(PERMISSION_DENIED\): etcdserver: permission denied/);
  });
  it('anything else: INTERNAL with its message', () => {
    const e = storeError(new Error('boom'));
    assert.strictEqual(e.code, status.INTERNAL);
    assert.match(e.message, /boom/);
  });
});
