import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Options of {@link TcpProxy.start}. */
export interface TcpProxyOptions {
  /** Port to listen on (0 for any free port). */
  readonly listenPort: number;
  /** Where accepted connections are forwarded. */
  readonly targetPort: number;
  /** Host of the target. Default `127.0.0.1`. */
  readonly targetHost?: string;
  /** Address to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Source of randomness for jitter and dropped connections (a seeded one makes runs repeatable). */
  readonly random?: () => number;
}

interface Link {
  readonly client: Socket;
  upstream?: Socket;
  /** The etcd member id that opened this connection, from the `X-Server-From` header of its first request. */
  sender?: string;
  blackholed: boolean;
  /** Both directions, while traffic flows through (delayed chunks wait in them). */
  directions?: readonly Direction[];
}

/**
 * One direction of a link while it is delayed: the chunks waiting, in order, each with the time it is due
 * (`chunk` undefined: the end), and the one timer that writes them out in that order.
 */
interface Direction {
  readonly queue: { at: number; chunk: Buffer | undefined }[];
  timer: NodeJS.Timeout | undefined;
}

const newDirection = (): Direction => ({ queue: [], timer: undefined });

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_SNIFF_BYTES = 16 * 1024;

/**
 * A TCP proxy in front of an etcd member's advertised peer (or client) URL, as etcd's functional tester puts
 * one in front of each member. It can blackhole every connection through it, or only those opened by given
 * etcd members: etcd's peer requests (raft streams, pipeline, snapshots) carry `X-Server-From: <member id>`,
 * which the proxy reads from each connection's first request. Blocking a member in every other member's proxy
 * and blackholing its own proxy cuts its raft traffic in both directions, a real partition of that member.
 *
 * A blackholed connection is held open and its bytes are dropped, as a network partition would: peers see
 * timeouts, not refusals. Besides blackholes the proxy delays traffic (with jitter, order kept), refuses a
 * fraction of connections, and resets connections, as Toxiproxy's toxics do.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #links = new Set<Link>();
  readonly #blockedSenders = new Set<string>();
  #blackholeAll = false;
  #refusedRequests: RegExp | undefined;
  #delay = { ms: 0, jitterMs: 0 };
  #dropFraction = 0;
  readonly #random: () => number;
  #closed = false;

  private constructor(server: Server, target: { host: string; port: number }, random: () => number) {
    this.#server = server;
    this.#target = target;
    this.#random = random;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Starts a proxy listening on `host:listenPort`. */
  static start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer({ noDelay: true });
    const target = { host: options.targetHost ?? '127.0.0.1', port: options.targetPort };
    const proxy = new TcpProxy(server, target, options.random ?? Math.random);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: options.listenPort, host: options.host ?? '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        resolve(proxy);
      });
    });
  }

  /** The port the proxy listens on. */
  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** True while any fault is in force. */
  get faulty(): boolean {
    return (
      this.#blackholeAll || this.#blockedSenders.size > 0 || this.#delay.ms > 0 || this.#dropFraction > 0
    );
  }

  /**
   * Delays every chunk, both ways, by `ms` plus a uniform random `0..jitterMs`, keeping the order of each
   * direction, until {@link heal}. `delay(0)` ends it.
   */
  delay(ms: number, jitterMs = 0): void {
    if (!(ms >= 0 && jitterMs >= 0)) throw new RangeError(`delay needs ms >= 0 and jitterMs >= 0`);
    this.#delay = { ms, jitterMs };
  }

  /**
   * Resets (TCP RST) each open connection with probability `fraction`, and each new one likewise on accept,
   * until {@link heal}. `1` refuses every connection, as a crashed listener would, but faster to notice.
   */
  dropConnections(fraction: number): void {
    if (!(fraction >= 0 && fraction <= 1))
      throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
    this.#dropFraction = fraction;
    for (const link of this.#links) if (this.#random() < fraction) this.#reset(link);
  }

  /** Resets (TCP RST) every open connection once; new connections pass. */
  resetConnections(): void {
    for (const link of this.#links) this.#reset(link);
  }

  /** Drops every connection through the proxy, existing and new, until {@link heal}. */
  blackhole(): void {
    this.#blackholeAll = true;
    for (const link of this.#links) this.#cut(link);
  }

  /** Drops the connections opened by etcd member `memberId` (hex), existing and new, until {@link heal}. */
  blockSender(memberId: string): void {
    this.#blockedSenders.add(memberId);
    for (const link of this.#links) if (link.sender === memberId) this.#cut(link);
  }

  /** Lets member `memberId` through again. Dropped connections are closed so that the peer redials. */
  unblockSender(memberId: string): void {
    this.#blockedSenders.delete(memberId);
    for (const link of this.#links) if (link.blackholed && link.sender === memberId) this.#destroy(link);
  }

  /**
   * Closes at once every new connection whose first request line (`GET /members HTTP/1.1`) matches `pattern`;
   * `undefined` ends this. testkit uses it while a cluster boots: each new member asks its peers for
   * `/members`, and a peer that is bound but not yet serving would make it wait one second per peer.
   */
  refuseRequests(pattern: RegExp | undefined): void {
    this.#refusedRequests = pattern;
  }

  /** Ends every fault: traffic passes again; dropped connections are closed so that peers redial at once. */
  heal(): void {
    this.#blackholeAll = false;
    this.#delay = { ms: 0, jitterMs: 0 };
    this.#dropFraction = 0;
    this.#blockedSenders.clear();
    for (const link of this.#links) if (link.blackholed) this.#destroy(link);
  }

  /** Stops listening and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of this.#links) this.#destroy(link);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const link: Link = { client, blackholed: false };
    this.#links.add(link);
    client.on('error', () => this.#destroy(link));
    client.on('close', () => this.#destroy(link));
    if (this.#blackholeAll) {
      this.#cut(link);
      return;
    }
    if (this.#dropFraction > 0 && this.#random() < this.#dropFraction) {
      this.#reset(link);
      return;
    }
    let sniffed = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      sniffed = Buffer.concat([sniffed, chunk]);
      const end = sniffed.indexOf(HEADER_END);
      if (end < 0 && sniffed.length < MAX_SNIFF_BYTES) return;
      client.off('data', onData);
      client.pause();
      const head = sniffed.subarray(0, end).toString('latin1');
      if (this.#refusedRequests?.test(head.slice(0, head.indexOf('\r\n')))) {
        this.#destroy(link);
        return;
      }
      const sender = /^x-server-from:\s*([0-9a-f]+)\s*$/im.exec(head)?.[1];
      if (sender) link.sender = sender;
      if (sender && this.#blockedSenders.has(sender)) this.#cut(link);
      else this.#connectUpstream(link, sniffed);
    };
    client.on('data', onData);
  }

  #connectUpstream(link: Link, firstBytes: Buffer): void {
    const upstream = createConnection({ host: this.#target.host, port: this.#target.port, noDelay: true });
    link.upstream = upstream;
    upstream.on('error', () => this.#destroy(link));
    upstream.on('close', () => this.#destroy(link));
    // the sniffed first bytes and the rest of that direction share one order
    const toUpstream = newDirection();
    const toClient = newDirection();
    link.directions = [toUpstream, toClient];
    this.#send(upstream, firstBytes, toUpstream);
    this.#forward(link.client, upstream, toUpstream);
    this.#forward(upstream, link.client, toClient);
    link.client.resume();
  }

  /** Copies `from` to `to`, with back-pressure, through the current delay; the end follows the last chunk. */
  #forward(from: Socket, to: Socket, direction: Direction): void {
    from.on('data', (chunk: Buffer) => {
      if (!this.#send(to, chunk, direction)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => {
      if (direction.queue.length === 0) to.end();
      else direction.queue.push({ at: direction.queue.at(-1)!.at, chunk: undefined });
    });
  }

  /**
   * Writes `chunk` now, or queues it for the delay plus jitter, never before the chunks queued ahead of it;
   * returns false when `to` asks for back-pressure.
   */
  #send(to: Socket, chunk: Buffer, direction: Direction): boolean {
    const { ms, jitterMs } = this.#delay;
    const { queue } = direction;
    if (ms === 0 && queue.length === 0) return to.write(chunk);
    const due = performance.now() + ms + this.#random() * jitterMs;
    queue.push({ at: Math.max(due, queue.at(-1)?.at ?? 0), chunk });
    this.#drain(to, direction);
    return true;
  }

  /** Writes out the queued chunks that are due, in order, and sets one timer for the next. */
  #drain(to: Socket, direction: Direction): void {
    if (direction.timer) return;
    const { queue } = direction;
    while (queue.length > 0 && queue[0]!.at <= performance.now()) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) {
        queue.length = 0;
        return;
      }
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length === 0) return;
    direction.timer = setTimeout(() => {
      direction.timer = undefined;
      this.#drain(to, direction);
    }, queue[0]!.at - performance.now());
  }

  /** Turns a link into a blackhole: the upstream side is closed, the client side is held and its bytes dropped. */
  #cut(link: Link): void {
    if (link.blackholed) return;
    link.blackholed = true;
    for (const direction of link.directions ?? []) {
      clearTimeout(direction.timer);
      direction.queue.length = 0;
    }
    link.client.removeAllListeners('end');
    link.upstream?.removeAllListeners('data');
    link.upstream?.removeAllListeners('close');
    link.upstream?.on('error', () => {});
    link.upstream?.destroy();
    link.client.removeAllListeners('data');
    link.client.on('data', () => {});
    link.client.resume();
  }

  /** Closes both sides with a TCP RST. */
  #reset(link: Link): void {
    if (!this.#links.delete(link)) return;
    for (const socket of [link.client, link.upstream]) {
      if (socket?.readyState === 'open') socket.resetAndDestroy();
      else socket?.destroy();
    }
  }

  #destroy(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}
