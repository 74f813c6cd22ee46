// A small DNS client and upstream for tests, run inside test namespaces (`ip netns exec NS node
// dist/test/helpers/dns-tool.js MODE ...`):
//   query SERVER NAME TYPE [tcp]   one query, the answer as JSON on stdout
//   upstream ADDR [silent]         an "internet" resolver: example.com and big.example.com; a line
//                                  per query received on stdout; `silent` never answers (a blackhole)
//   loop SERVER NAME SECONDS RATE  lookups at RATE/s for SECONDS, then {"ok":N,"failed":M}
//   flood SERVER COUNT             COUNT hostile packets, then {"sent":N,"answers":{rcode:n}}
//   bench SERVER NAME N WINDOW SECS N sequential lookups ({"p50","p99"} in ms), then WINDOW in
//                                  flight for SECS ({"qps","lost"}); NAME with {i} asks a new name
//                                  each time
import * as dgram from 'dgram';
import * as net from 'net';
import * as dnsPacket from 'dns-packet';

const [mode, ...args] = process.argv.slice(2);

function encodeQuery(name: string, type: string, id = Math.floor(Math.random() * 65536)): Buffer {
  return dnsPacket.encode({
    id,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as 'A' }],
  });
}

function udpQuery(server: string, msg: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('error', () => {
      clearTimeout(t);
      s.close();
      resolve(undefined);
    });
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, 53, server);
  });
}

function tcpQuery(server: string, msg: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const c = net.connect({ host: server, port: 53 });
    let buf: Buffer = Buffer.alloc(0);
    const t = setTimeout(() => done(undefined), timeoutMs);
    const done = (v: Buffer | undefined): void => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    c.on('error', () => done(undefined));
    c.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
  });
}

function summary(m: Buffer | undefined): unknown {
  if (!m) return { timeout: true };
  const p = dnsPacket.decode(m) as dnsPacket.Packet & { rcode?: string; flag_tc?: boolean };
  return {
    rcode: p.rcode,
    tc: !!p.flag_tc,
    answers: (p.answers ?? []).map((a) => (a as { data: unknown }).data),
    ttls: (p.answers ?? []).map((a) => (a as { ttl?: number }).ttl),
  };
}

async function main(): Promise<void> {
  if (mode === 'query') {
    const [server, name, type, tcp] = args;
    const msg = encodeQuery(name, type);
    const m = tcp === 'tcp' ? await tcpQuery(server, msg, 3000) : await udpQuery(server, msg, 3000);
    process.stdout.write(`${JSON.stringify(summary(m))}\n`);
    return;
  }
  if (mode === 'upstream') {
    const [addr, silent] = args;
    const s = dgram.createSocket('udp4');
    s.on('message', (m, r) => {
      let q: dnsPacket.Packet;
      try {
        q = dnsPacket.decode(m);
      } catch {
        return;
      }
      const qq = q.questions![0];
      process.stdout.write(`Q ${qq.name} ${qq.type}\n`);
      if (silent === 'silent') return;
      const known = qq.name === 'example.com' || qq.name === 'big.example.com';
      const answers: dnsPacket.Answer[] =
        qq.type !== 'A' || !known
          ? []
          : qq.name === 'example.com'
            ? [{ type: 'A', name: qq.name, ttl: 60, data: '198.51.100.80' }]
            : Array.from({ length: 50 }, (_, i) => ({
                type: 'A' as const,
                name: qq.name,
                ttl: 60,
                data: `198.51.100.${i + 1}`,
              }));
      s.send(
        dnsPacket.encode({
          id: q.id,
          type: 'response',
          flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
          questions: q.questions,
          answers,
        }),
        r.port,
        r.address,
      );
    });
    s.bind(53, addr, () => process.stdout.write('listening\n'));
    return;
  }
  if (mode === 'loop') {
    const [server, name, seconds, rate] = args;
    const end = Date.now() + Number(seconds) * 1000;
    const gap = 1000 / Number(rate);
    let ok = 0;
    let failed = 0;
    const pending: Promise<void>[] = [];
    for (let next = Date.now(); Date.now() < end; next += gap) {
      // Each lookup as a client with `timeout:1 attempts:3` does it: three tries a second apart.
      pending.push(
        (async () => {
          for (let attempt = 0; attempt < 3; attempt++) {
            const m = await udpQuery(server, encodeQuery(name, 'A'), 1000);
            if (m && (dnsPacket.decode(m) as { rcode?: string }).rcode === 'NOERROR') {
              ok++;
              return;
            }
            if (m) break;
          }
          failed++;
        })(),
      );
      const wait = next + gap - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(pending);
    process.stdout.write(`${JSON.stringify({ ok, failed })}\n`);
    return;
  }
  if (mode === 'bench') {
    const [server, name, n, window, secs] = args;
    const nameOf = (i: number): string => name.replace('{i}', String(i));
    const lat: number[] = [];
    let i = 0;
    for (; i < Number(n); i++) {
      const t0 = process.hrtime.bigint();
      if (!(await udpQuery(server, encodeQuery(nameOf(i), 'A'), 2000))) continue;
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    lat.sort((a, b) => a - b);
    const q = (p: number): number => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)];
    // Sustained: one socket, WINDOW queries in flight, a new one for each answer; a query without
    // an answer in 1 s is lost.
    const s = dgram.createSocket('udp4');
    const sent = new Map<number, number>();
    let answered = 0;
    let lost = 0;
    let nextId = 1;
    const end = Date.now() + Number(secs) * 1000;
    const send = (): void => {
      if (Date.now() >= end) return;
      const id = nextId++ & 0xffff;
      sent.set(id, Date.now());
      s.send(encodeQuery(nameOf(i++), 'A', id), 53, server);
    };
    s.on('message', (m) => {
      const id = m.readUInt16BE(0);
      if (!sent.delete(id)) return;
      answered++;
      send();
    });
    const sweep = setInterval(() => {
      for (const [id, at] of sent)
        if (Date.now() - at > 1000) {
          sent.delete(id);
          lost++;
          send();
        }
    }, 100);
    await new Promise<void>((r) => s.bind(0, () => r()));
    for (let w = 0; w < Number(window); w++) send();
    await new Promise((r) => setTimeout(r, Number(secs) * 1000 + 1100));
    clearInterval(sweep);
    lost += sent.size;
    s.close();
    process.stdout.write(
      `${JSON.stringify({ p50: q(0.5), p99: q(0.99), n: lat.length, qps: Math.round(answered / Number(secs)), lost })}\n`,
    );
    return;
  }
  if (mode === 'flood') {
    const [server, count] = args;
    const answers: Record<string, number> = {};
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => {
      let rcode = 'unreadable';
      try {
        rcode = (dnsPacket.decode(m) as { rcode?: string }).rcode ?? 'none';
      } catch {
        // counted as unreadable
      }
      answers[rcode] = (answers[rcode] ?? 0) + 1;
    });
    await new Promise<void>((r) => s.bind(0, () => r()));
    const n = Number(count);
    for (let i = 0; i < n; i++) {
      s.send(hostile(i), 53, server);
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 1500));
    s.close();
    process.stdout.write(`${JSON.stringify({ sent: n, answers })}\n`);
  }
}

// Truncated headers, compression loops, huge counts, wrong class, ANY, zone transfers, opcodes,
// responses, random bytes: one of each in turn.
function hostile(i: number): Buffer {
  const id = i & 0xffff;
  const h = (hex: string): Buffer => {
    const b = Buffer.from(hex, 'hex');
    b.writeUInt16BE(id, 0);
    return b;
  };
  switch (i % 10) {
    case 0:
      return h('0000010000'); // a header cut short
    case 1:
      return h('000001000001000000000000c00c00010001'); // a name pointing at itself
    case 2:
      return h('00000100ffffffffffffffff'); // 65,535 of everything, nothing after
    case 3:
      return dnsPacket.encode({ id, type: 'query', questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
    case 4:
      return dnsPacket.encode({ id, type: 'query', questions: [{ name: 'web', type: 'ANY' as 'A' }] });
    case 5:
      return dnsPacket.encode({ id, type: 'query', questions: [{ name: 'vxnet', type: 'AXFR' }] });
    case 6:
      return dnsPacket.encode({ id, type: 'query', flags: 2 << 11, questions: [{ name: 'web', type: 'A' }] }); // STATUS
    case 7:
      return dnsPacket.encode({ id, type: 'response', questions: [{ name: 'web', type: 'A' }] });
    case 8:
      return h(
        `0000010000010000000000003f${'61'.repeat(63)}3f${'61'.repeat(63)}3f${'61'.repeat(63)}3f${'61'.repeat(63)}0000010001`,
      ); // a name over 255
    default: {
      const b = Buffer.alloc(12 + (i % 200));
      for (let j = 0; j < b.length; j++) b[j] = (i * 7919 + j * 104729) & 0xff;
      return b;
    }
  }
}

void main();
