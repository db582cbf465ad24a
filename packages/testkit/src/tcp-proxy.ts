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
}

interface Link {
  readonly client: Socket;
  upstream?: Socket;
  /** The etcd member id that opened this connection, from the `X-Server-From` header of its first request. */
  sender?: string;
  blackholed: boolean;
}

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
 * timeouts, not refusals.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #links = new Set<Link>();
  readonly #blockedSenders = new Set<string>();
  #blackholeAll = false;
  #refusedRequests: RegExp | undefined;
  #closed = false;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Starts a proxy listening on `host:listenPort`. */
  static start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new TcpProxy(server, { host: options.targetHost ?? '127.0.0.1', port: options.targetPort });
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

  /** True while any connection through the proxy is being dropped. */
  get faulty(): boolean {
    return this.#blackholeAll || this.#blockedSenders.size > 0;
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
    upstream.write(firstBytes);
    link.client.pipe(upstream);
    upstream.pipe(link.client);
    link.client.resume();
  }

  /** Turns a link into a blackhole: the upstream side is closed, the client side is held and its bytes dropped. */
  #cut(link: Link): void {
    if (link.blackholed) return;
    link.blackholed = true;
    link.client.unpipe();
    link.upstream?.unpipe();
    link.upstream?.removeAllListeners('close');
    link.upstream?.on('error', () => {});
    link.upstream?.destroy();
    link.client.removeAllListeners('data');
    link.client.on('data', () => {});
    link.client.resume();
  }

  #destroy(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}
