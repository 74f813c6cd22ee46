// etcd's Watch, Range and Authenticate messages, encoded and decoded by hand (pure). The watch carries every
// change the agent sees: a bulk change is thousands of events in one response, and decoding them
// into etcd3's protobufjs objects (with int64 revisions as Longs turned into strings) cost more than
// programming the kernel with them. Field numbers from etcd's rpc.proto and kv.proto (API v3).

export interface WatchedKey {
  deleted: boolean;
  key: string;
  value: Buffer | undefined; // a view into the response, for a put
  modRevision: number;
}

export interface WatchResponse {
  revision: number; // header.revision
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: WatchedKey[];
}

class Cursor {
  constructor(readonly buf: Buffer, public pos = 0, readonly end = buf.length) {}

  // Revisions and lengths fit in a double; larger values (lease IDs) are only ever skipped.
  varint(): number {
    let x = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
    }
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const len = this.varint(); // read before pos is: `pos += varint()` would add to the old pos
        this.pos += len;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new Error('truncated field');
  }

  // The bounds of a length-delimited field.
  sub(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error('truncated field');
    return [start, this.pos];
  }
}

export function decodeWatchResponse(buf: Buffer): WatchResponse {
  const c = new Cursor(buf);
  const out: WatchResponse = { revision: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', events: [] };
  while (c.pos < c.end) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 11 && wire === 2) {
      const [s, e] = c.sub();
      out.events.push(decodeEvent(buf, s, e));
    } else if (field === 1 && wire === 2) {
      const [s, e] = c.sub();
      out.revision = headerRevision(buf, s, e);
    } else if (field === 3 && wire === 0) {
      out.created = c.varint() !== 0;
    } else if (field === 4 && wire === 0) {
      out.canceled = c.varint() !== 0;
    } else if (field === 5 && wire === 0) {
      out.compactRevision = c.varint();
    } else if (field === 6 && wire === 2) {
      const [s, e] = c.sub();
      out.cancelReason = buf.toString('utf8', s, e);
    } else {
      c.skip(wire);
    }
  }
  return out;
}

function headerRevision(buf: Buffer, start: number, end: number): number {
  const c = new Cursor(buf, start, end);
  let revision = 0;
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === (3 << 3)) revision = c.varint();
    else c.skip(tag & 7);
  }
  return revision;
}

function decodeEvent(buf: Buffer, start: number, end: number): WatchedKey {
  const c = new Cursor(buf, start, end);
  const ev: WatchedKey = { deleted: false, key: '', value: undefined, modRevision: 0 };
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === (1 << 3)) {
      ev.deleted = c.varint() === 1;
    } else if (tag === ((2 << 3) | 2)) {
      const [s, e] = c.sub();
      decodeKv(buf, s, e, ev);
    } else {
      c.skip(tag & 7); // prev_kv: never asked for
    }
  }
  if (ev.deleted) ev.value = undefined;
  return ev;
}

// A Range's answer: every key of the range at one revision (the agent's load of the cluster).
export interface RangeResponse {
  revision: number; // header.revision
  kvs: { key: string; value: Buffer; modRevision: number }[];
  more: boolean;
}

// The same decoding as a watch's events: a restart loads every endpoint of the cluster this way, and
// etcd3's objects (Longs turned into strings, a Buffer copied per key and value) took a quarter of a
// restart's time at 10,000 endpoints.
export function decodeRangeResponse(buf: Buffer): RangeResponse {
  const c = new Cursor(buf);
  const out: RangeResponse = { revision: 0, kvs: [], more: false };
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === ((2 << 3) | 2)) {
      const [s, e] = c.sub();
      const kv = { deleted: false, key: '', value: undefined as Buffer | undefined, modRevision: 0 };
      decodeKv(buf, s, e, kv);
      out.kvs.push({ key: kv.key, value: kv.value!, modRevision: kv.modRevision });
    } else if (tag === ((1 << 3) | 2)) {
      const [s, e] = c.sub();
      out.revision = headerRevision(buf, s, e);
    } else if (tag === (3 << 3)) {
      out.more = c.varint() !== 0;
    } else {
      c.skip(tag & 7);
    }
  }
  return out;
}

function decodeKv(buf: Buffer, start: number, end: number, ev: WatchedKey): void {
  const c = new Cursor(buf, start, end);
  let value: Buffer | undefined;
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === ((1 << 3) | 2)) {
      const [s, e] = c.sub();
      ev.key = buf.toString('utf8', s, e);
    } else if (tag === (3 << 3)) {
      ev.modRevision = c.varint();
    } else if (tag === ((5 << 3) | 2)) {
      const [s, e] = c.sub();
      value = buf.subarray(s, e);
    } else {
      c.skip(tag & 7);
    }
  }
  // proto3 leaves an empty value out: a put of "" is still a put.
  ev.value = value ?? Buffer.alloc(0);
}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varintBytes(payload.length)]), payload]);
}

// WatchRequest{create_request: {key, range_end, start_revision}}; no prev_kv (etcd would read the
// old value of every deleted key), no progress notifications.
export function encodeWatchCreate(key: Buffer, rangeEnd: Buffer, startRevision: number): Buffer {
  const create = Buffer.concat([lengthDelimited(1, key), lengthDelimited(2, rangeEnd), Buffer.from([3 << 3, ...varintBytes(startRevision)])]);
  return lengthDelimited(1, create);
}

// RangeRequest{key, range_end}: linearizable, the latest revision, no limit.
export function encodeRange(key: Buffer, rangeEnd: Buffer): Buffer {
  return Buffer.concat([lengthDelimited(1, key), lengthDelimited(2, rangeEnd)]);
}

export function encodeAuthenticate(name: string, password: string): Buffer {
  return Buffer.concat([lengthDelimited(1, Buffer.from(name)), lengthDelimited(2, Buffer.from(password))]);
}

export function decodeAuthenticateToken(buf: Buffer): string {
  const c = new Cursor(buf);
  let token = '';
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === ((2 << 3) | 2)) {
      const [s, e] = c.sub();
      token = buf.toString('utf8', s, e);
    } else {
      c.skip(tag & 7);
    }
  }
  return token;
}
