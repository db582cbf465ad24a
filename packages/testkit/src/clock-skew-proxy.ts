import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { shiftTtlFields, TtlBelowOneError } from './internal/ttl-fields.js';
import { TcpProxy } from './tcp-proxy.js';

/** Options of {@link startClockSkewProxy}: one of `behindMs` and `aheadMs`, a multiple of 1000. */
export interface ClockSkewProxyOptions {
  /**
   * How far the emulated member's wall clock is behind the leader's, in ms: every key written with a TTL
   * through the proxy expires this much early. A multiple of 1000 (etcd's `ttl` is in whole seconds).
   */
  readonly behindMs?: number;
  /** How far the emulated member's wall clock is ahead of the leader's, in ms: keys expire this much late. */
  readonly aheadMs?: number;
}

/** Headers that belong to one connection, not to the request or reply forwarded (RFC 9110, 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

const isForm = (req: IncomingMessage): boolean =>
  (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');

/**
 * An emulation of one etcd member whose wall clock is off from the leader's, **for the TTL effect only**: an
 * HTTP proxy on a loopback port in front of the member's client URL that forwards every request (streaming:
 * watch long-polls work; keep-alive both sides) and shifts the `ttl` of each write to `/v2/keys` by the skew.
 *
 * Why a proxy: etcd v2 turns a `ttl` into an absolute expiration with the wall clock of the member that
 * received the request (`clock.Now().Add(ttl)`), and the leader expires keys by its own wall clock (a `SYNC`
 * proposal every 500 ms). A key written through a member whose clock is X behind the leader's therefore
 * expires X early; X ahead, X late; a leader whose clock is ahead expires every key early (emulate it with a
 * proxy "behind" in front of every member). The client's own clock plays no part. A Go process's wall clock
 * cannot be moved on its own here (Go reads it from the vDSO, so libfaketime does nothing; time namespaces do
 * not cover `CLOCK_REALTIME`; containers share the host's clock), so the proxy gives the request the `ttl`
 * that yields the expiration such a member would set: `ttl - behindMs / 1000` (or `+ aheadMs / 1000`).
 * Nothing else of a skewed clock is emulated (etcd uses the wall clock for little else in v2).
 *
 * The `ttl` fields of the query string and of an `x-www-form-urlencoded` body are rewritten (the body's
 * `Content-Length` is set anew); an empty or non-numeric `ttl` passes unchanged. A write whose shifted `ttl`
 * would fall below 1 second is not forwarded: the proxy answers it `400` with a `text/plain` message. Only
 * `http` members can be fronted.
 *
 * {@link cut} stops forwarding, as {@link TcpProxy.blackhole} does (it is one, in front of the HTTP part):
 * open connections and new ones are held and their bytes dropped, so a client's requests (its refreshes)
 * time out rather than fail fast.
 *
 * ```ts
 * await using cluster = await startCluster({ size: 3 });
 * await using skewed = await startClockSkewProxy(cluster.members[1]!, { behindMs: 2000 });
 * const client = new Client({ endpoints: [skewed.url] }); // its ttl=5 keys expire after 3 s
 * skewed.cut(); // its refreshes stop reaching etcd
 * ```
 */
export class ClockSkewProxy implements AsyncDisposable {
  /** The member's client URL the proxy forwards to. */
  readonly target: string;
  readonly #front: TcpProxy;
  readonly #server: Server;
  readonly #agent = new Agent({ keepAlive: true });
  #rewrittenTtls = 0;
  #closed = false;
  #shift: number;

  private constructor(target: URL, ttlShiftSeconds: number, server: Server, front: TcpProxy) {
    this.target = target.origin;
    this.#shift = ttlShiftSeconds;
    this.#server = server;
    this.#front = front;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#forward(target, req, res));
  }

  /**
   * Starts a proxy in front of the member at `clientURL`.
   *
   * @throws {TypeError} at once unless exactly one of `behindMs` and `aheadMs` is given, or for an https member.
   * @throws {RangeError} at once when the skew is negative or not a multiple of 1000 ms.
   */
  static start(clientURL: string, options: ClockSkewProxyOptions): Promise<ClockSkewProxy> {
    const target = new URL(clientURL);
    if (target.protocol !== 'http:')
      throw new TypeError(`the clock-skew proxy fronts http members only, got ${clientURL}`);
    return ClockSkewProxy.#listen(target, ttlShiftSeconds(options));
  }

  static async #listen(target: URL, shift: number): Promise<ClockSkewProxy> {
    const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as { port: number };
    const front = await TcpProxy.start({ listenPort: 0, targetPort: port }).catch((error: unknown) => {
      server.close();
      throw error;
    });
    return new ClockSkewProxy(target, shift, server, front);
  }

  /** The URL to give clients instead of the member's (`http://127.0.0.1:<port>`). */
  get url(): string {
    return `http://127.0.0.1:${this.#front.port}`;
  }

  /** What the proxy adds to each `ttl`, in seconds (negative for a clock behind). */
  get ttlShiftSeconds(): number {
    return this.#shift;
  }

  /**
   * The member's clock jumps: from now on writes get the expiration a member `behindMs` behind (or `aheadMs`
   * ahead of) the leader would set. Keys written before keep theirs, as on a member whose clock jumps (a leader
   * whose clock jumps also expires every key by its new time: not emulated).
   *
   * @throws {TypeError} unless exactly one of `behindMs` and `aheadMs` is given.
   * @throws {RangeError} when the skew is negative or not a multiple of 1000 ms.
   */
  jump(options: ClockSkewProxyOptions): void {
    this.#shift = ttlShiftSeconds(options);
  }

  /** How many `ttl` fields the proxy has shifted so far. */
  get rewrittenTtls(): number {
    return this.#rewrittenTtls;
  }

  /** Stops forwarding: open and new connections are held with their bytes dropped, until {@link heal}. */
  cut(): void {
    this.#front.blackhole();
  }

  /** Forwards again; the connections held by {@link cut} are closed, so clients redial at once. */
  heal(): void {
    this.#front.heal();
  }

  /** Stops listening and closes every connection, both sides. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#front.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Sends `req` on to the member with its `ttl` fields shifted, and streams the reply back. */
  #forward(target: URL, req: IncomingMessage, res: ServerResponse): void {
    const headers = endToEndHeaders(req.headers);
    const rewrites = req.url?.startsWith('/v2/keys') === true;
    let path = req.url ?? '/';
    let body: Promise<Buffer> | undefined;
    try {
      path = rewrites ? this.#shiftQuery(path) : path;
    } catch (error) {
      this.#refuse(req, res, error);
      return;
    }
    if (rewrites && isForm(req)) body = readAll(req);
    const forwardWith = (payload: Buffer | undefined): void => {
      if (payload) {
        headers['content-length'] = String(payload.length);
        delete headers['transfer-encoding'];
      }
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path, headers, agent: this.#agent },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.statusMessage, endToEndHeaders(reply.headers));
          res.flushHeaders(); // a watch's headers come at once, its event later
          reply.pipe(res);
          reply.on('error', () => res.destroy());
        },
      );
      upstream.on('error', () => {
        if (res.headersSent || res.destroyed) res.destroy();
        else res.writeHead(502, { 'content-type': 'text/plain' }).end('clock-skew proxy: member unreachable');
      });
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy(); // the client went away mid-reply (a watch, a cut)
      });
      if (payload) upstream.end(payload);
      else req.pipe(upstream);
    };
    if (!body) {
      forwardWith(undefined);
      return;
    }
    body.then(
      (raw) => {
        let shifted: Buffer;
        try {
          shifted = this.#shiftForm(raw);
        } catch (error) {
          this.#refuse(req, res, error);
          return;
        }
        forwardWith(shifted);
      },
      () => res.destroy(),
    );
  }

  #shiftQuery(path: string): string {
    const question = path.indexOf('?');
    if (question < 0) return path;
    const { form, shifted } = shiftTtlFields(path.slice(question + 1), this.ttlShiftSeconds);
    this.#rewrittenTtls += shifted;
    return `${path.slice(0, question + 1)}${form}`;
  }

  #shiftForm(raw: Buffer): Buffer {
    const { form, shifted } = shiftTtlFields(raw.toString('latin1'), this.ttlShiftSeconds);
    this.#rewrittenTtls += shifted;
    return Buffer.from(form, 'latin1');
  }

  /** Answers a write whose shifted `ttl` would be below 1 second with 400, without forwarding it. */
  #refuse(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (!(error instanceof TtlBelowOneError)) throw error;
    req.resume(); // read the rest of the body so the connection can be reused
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`clock-skew proxy: ${error.message}`);
  }
}

/** The whole body of a request. */
function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The `ttl` shift the options ask for, in seconds, after checking them. */
function ttlShiftSeconds(options: ClockSkewProxyOptions): number {
  const { behindMs, aheadMs } = options;
  if ((behindMs === undefined) === (aheadMs === undefined))
    throw new TypeError('give exactly one of behindMs and aheadMs');
  const skewMs = behindMs ?? aheadMs!;
  if (!(Number.isInteger(skewMs) && skewMs >= 0 && skewMs % 1000 === 0)) {
    throw new RangeError(
      `a clock skew must be a whole number of seconds in ms (etcd's ttl is in seconds), got ${skewMs}`,
    );
  }
  return behindMs === undefined ? skewMs / 1000 : -skewMs / 1000;
}

/**
 * Starts a {@link ClockSkewProxy} in front of `member` (a member of a test cluster, or a client URL): what
 * clients write with a TTL through its `url` expires as if the member's wall clock were `behindMs` behind
 * (early) or `aheadMs` ahead of (late) the leader's. An emulation of the TTL effect only; see
 * {@link ClockSkewProxy}.
 *
 * @throws {TypeError} at once unless exactly one of `behindMs` and `aheadMs` is given, or for an https member.
 * @throws {RangeError} at once when the skew is negative or not a multiple of 1000 ms.
 */
export function startClockSkewProxy(
  member: { readonly clientURL: string } | string,
  options: ClockSkewProxyOptions,
): Promise<ClockSkewProxy> {
  return ClockSkewProxy.start(typeof member === 'string' ? member : member.clientURL, options);
}
