import * as assert from 'assert';
import { errnoName } from '../../agent/dataplane/nl';

describe('netlink errors by errno', () => {
  it('names what the netlink library reports, also an errno libuv has no name for', () => {
    assert.strictEqual(errnoName(new Error('Request rejected: EEXIST')), 'EEXIST');
    assert.strictEqual(errnoName(new Error('Request rejected: Unknown system error -54')), 'EXFULL');
    assert.strictEqual(errnoName(new Error('Request rejected: Unknown system error -133')), 'errno 133');
    assert.strictEqual(errnoName(Object.assign(new Error('x'), { code: 'ENODEV' })), 'ENODEV');
  });
});
