import * as fs from 'fs';
import * as dnsPacket from 'dns-packet';

import type { Logger } from '../../lib/log';
import { decide, respond } from './answer';
import type { AnswerSettings } from './answer';
import { AnswerCache } from './cache';
import { Forwarder } from './forward';
import { Listeners } from './listeners';
import type { From } from './listeners';
import { NameIndex } from './name-index';
import { DnsStats } from './stats';
import type { DnsTable } from './table';
import { parseResolvConf, parseUpstream } from './upstreams';
import type { Upstream } from './upstreams';
import { decodeQuery, encodeResponse, udpLimit } from './wire';

// The resolver's settings, as the agent sends them from its configuration (the dns.* keys).
export interface DnsConfig {
  domain: string;
  ttl: number;
  port: number;
  resolvConf: string; // upstreams from this file unless `upstreams` names them
  upstreams: string[];
  upstreamTimeoutMs: number;
  cacheSize: number;
  maxInFlight: number;
}

// Answers on every served network's gateway from the last table the agent sent, forwards the rest.
// It holds no connection to etcd: between two agents (a restart) it goes on answering from the
// table it has.
export class Resolver {
  readonly stats = new DnsStats();
  private index: NameIndex | undefined;
  private config: DnsConfig | undefined;
  private settings: AnswerSettings = { domain: 'vxnet', ttl: 2 };
  private listeners: Listeners | undefined;
  private forwarder: Forwarder | undefined;
  private fileUpstreams: Upstream[] = [];
  private watched: string | undefined;
  private retry: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  configure(config: DnsConfig): void {
    const portChanged = this.config?.port !== config.port;
    this.config = config;
    this.settings = { domain: config.domain.toLowerCase().replace(/^\.+|\.+$/g, ''), ttl: config.ttl };
    if (!this.forwarder || this.config.cacheSize !== config.cacheSize)
      this.forwarder = new Forwarder(
        () => this.upstreams(),
        () => ({ timeoutMs: this.config!.upstreamTimeoutMs, maxInFlight: this.config!.maxInFlight }),
        new AnswerCache(config.cacheSize),
        this.stats,
      );
    this.watchResolvConf(config.upstreams.length ? undefined : config.resolvConf);
    if (portChanged) {
      this.listeners?.close();
      this.listeners = new Listeners(config.port, (q, from) => this.handle(q, from), this.log);
    }
    void this.sync();
  }

  setTable(table: DnsTable): void {
    this.index = new NameIndex(table);
    void this.sync();
  }

  upstreams(): Upstream[] {
    const c = this.config;
    return c?.upstreams.length ? c.upstreams.map(parseUpstream) : this.fileUpstreams;
  }

  listening(): string[] {
    return this.listeners?.addresses ?? [];
  }

  private async sync(): Promise<void> {
    if (!this.listeners || !this.index) return;
    await this.listeners.sync(this.index.networks.flatMap((n) => n.gateways));
    // A gateway whose bridge is not there yet: again in a moment, until the table drops it.
    clearTimeout(this.retry);
    if (this.listeners.missing) this.retry = setTimeout(() => void this.sync(), 250);
  }

  // Re-read when it changes: its identity, time and size are looked at every second (resolv.conf
  // is often replaced by a rename, from a DHCP client or systemd-resolved, which an inotify watch on
  // the file misses), and compared with what they were when it was last read.
  private watchResolvConf(file: string | undefined): void {
    if (this.watched === file) return;
    clearInterval(this.watchTimer);
    this.watched = file;
    this.fileUpstreams = [];
    if (!file) return;
    let seen = '';
    const check = (): void => {
      let now: string;
      try {
        const st = fs.statSync(file);
        now = `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}`;
      } catch {
        now = 'absent';
      }
      if (now === seen) return;
      seen = now;
      try {
        this.fileUpstreams = parseResolvConf(fs.readFileSync(file, 'utf8'));
        this.log.info('resolver upstreams', { file, upstreams: this.fileUpstreams.map((u) => u.address) });
      } catch (err) {
        this.fileUpstreams = [];
        this.log.warn('cannot read the upstream resolvers', { file, error: (err as Error).message });
      }
    };
    check();
    this.watchTimer = setInterval(check, 1000);
    this.watchTimer.unref();
  }

  async handle(query: Buffer, from: From): Promise<Buffer | undefined> {
    const start = process.hrtime.bigint();
    const done = (out: Buffer | undefined, type: string, rcode: string): Buffer | undefined => {
      this.stats.answered(type, rcode, Number(process.hrtime.bigint() - start) / 1e9);
      return out;
    };
    const d = decodeQuery(query);
    if (!d.ok) {
      this.stats.malformed++;
      return d.formerr && done(d.formerr, 'none', 'FORMERR');
    }
    const q = d.packet;
    const type = q.questions?.[0]?.type ?? 'none';
    const limit = from.tcp ? 65535 : udpLimit(q);
    if (!this.index) return done(encodeResponse(respond(q, this.settings, 'SERVFAIL'), limit), type, 'SERVFAIL');
    const r = decide(this.index, this.settings, q, from.source, from.gateway);
    if (r.kind === 'drop') return undefined;
    if (r.kind === 'reply') return done(encodeResponse(r.packet, limit), type, r.rcode);
    let out = await this.forwarder!.forward(query, q, r.question, from.tcp);
    // An upstream may answer the host with more than this client takes over UDP.
    if (out && out.length > limit) out = truncate(out, limit);
    if (out) return done(out, type, rcodeName(out));
    return done(encodeResponse(respond(q, this.settings, 'SERVFAIL'), limit), type, 'SERVFAIL');
  }

  close(): void {
    clearTimeout(this.retry);
    clearInterval(this.watchTimer);
    this.listeners?.close();
  }
}

function truncate(buf: Buffer, limit: number): Buffer | undefined {
  try {
    return encodeResponse(dnsPacket.decode(buf), limit);
  } catch {
    return undefined;
  }
}

function rcodeName(buf: Buffer): string {
  const names = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
  return buf.length >= 4 ? (names[buf[3] & 0xf] ?? `RCODE${buf[3] & 0xf}`) : 'none';
}
