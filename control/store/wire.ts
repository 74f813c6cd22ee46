// etcd's Watch, Range and Authenticate messages, encoded and decoded by hand (pure). The watch carries every
// change the agent sees: a bulk change is thousands of events in one response, and decoding them
// into etcd3's protobufjs objects (with int64 revisions as Longs turned into strings) cost more than
// programming the kernel with them. Field numbers from etcd's rpc.proto and kv.proto (API v3).

export interface WatchedKey {
  deleted: boolean;
  key: string;
  value: string | undefined; // for a put
  modRevision: number;
}

export interface WatchResponse {
  revision: number; // header.revision
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: WatchEvents;
}

// A response's events, each decoded when the caller reads it, into an object the caller reuses: a
// bulk change is thousands of events in one response, and an object per event (a Buffer for its
// value, its key) decoded up front lived until the last was applied, so the young generation's
// collections copied them all and moved them to the old one, as garbage.
export class WatchEvents {
  constructor(
    private readonly buf: Buffer,
    private readonly bounds: number[],
  ) {} // [start, end] per event

  get length(): number {
    return this.bounds.length / 2;
  }

  read(i: number, into: WatchedKey): WatchedKey {
    return decodeEvent(this.buf, this.bounds[2 * i], this.bounds[2 * i + 1], into);
  }

  // Each event as an object of its own (tests, and callers with few events).
  all(): WatchedKey[] {
    return Array.from({ length: this.length }, (_, i) =>
      this.read(i, { deleted: false, key: '', value: undefined, modRevision: 0 }),
    );
  }
}

class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

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
  const bounds: number[] = [];
  const out: WatchResponse = {
    revision: 0,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: '',
    events: new WatchEvents(buf, bounds),
  };
  while (c.pos < c.end) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 11 && wire === 2) {
      const [s, e] = c.sub();
      bounds.push(s, e);
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
    if (tag === 3 << 3) revision = c.varint();
    else c.skip(tag & 7);
  }
  return revision;
}

function decodeEvent(buf: Buffer, start: number, end: number, ev: WatchedKey): WatchedKey {
  const c = new Cursor(buf, start, end);
  ev.deleted = false;
  ev.key = '';
  ev.value = undefined;
  ev.modRevision = 0;
  let value: [number, number] | undefined;
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === 1 << 3) {
      ev.deleted = c.varint() === 1;
    } else if (tag === ((2 << 3) | 2)) {
      const [s, e] = c.sub();
      value = decodeKv(buf, s, e, ev);
    } else {
      c.skip(tag & 7); // prev_kv: never asked for
    }
  }
  // proto3 leaves an empty value out: a put of "" is still a put.
  if (!ev.deleted) ev.value = value ? buf.toString('utf8', value[0], value[1]) : '';
  return ev;
}

// A Range's answer, less its keys: the revision they were read at (header.revision), and whether
// a limit left keys out.
export interface RangeResponse {
  revision: number;
  more: boolean;
}

// Calls `each` with every key of a Range's answer, in order, with its value decoded as text: a
// restart loads every endpoint of the cluster this way. The same decoding as a watch's events, for
// the same reason (etcd3's objects took a quarter of a restart's time at 10,000 endpoints), and no
// object or Buffer per key either: they all lived until the last key was read.
export function decodeRangeResponse(
  buf: Buffer,
  each: (key: string, value: string, modRevision: number) => void,
): RangeResponse {
  const c = new Cursor(buf);
  const out: RangeResponse = { revision: 0, more: false };
  const kv = { key: '', modRevision: 0 };
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === ((2 << 3) | 2)) {
      const [s, e] = c.sub();
      kv.modRevision = 0;
      const v = decodeKv(buf, s, e, kv);
      // proto3 leaves an empty value out: a put of "" is still a put.
      each(kv.key, v ? buf.toString('utf8', v[0], v[1]) : '', kv.modRevision);
    } else if (tag === ((1 << 3) | 2)) {
      const [s, e] = c.sub();
      out.revision = headerRevision(buf, s, e);
    } else if (tag === 3 << 3) {
      out.more = c.varint() !== 0;
    } else {
      c.skip(tag & 7);
    }
  }
  return out;
}

// A KeyValue's key and mod_revision into `kv`; returns its value's bounds (none: the empty value).
function decodeKv(
  buf: Buffer,
  start: number,
  end: number,
  kv: { key: string; modRevision: number },
): [number, number] | undefined {
  const c = new Cursor(buf, start, end);
  let value: [number, number] | undefined;
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag === ((1 << 3) | 2)) {
      const [s, e] = c.sub();
      kv.key = buf.toString('utf8', s, e);
    } else if (tag === 3 << 3) {
      kv.modRevision = c.varint();
    } else if (tag === ((5 << 3) | 2)) {
      value = c.sub();
    } else {
      c.skip(tag & 7);
    }
  }
  return value;
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
  const create = Buffer.concat([
    lengthDelimited(1, key),
    lengthDelimited(2, rangeEnd),
    Buffer.from([3 << 3, ...varintBytes(startRevision)]),
  ]);
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
