import { request as httpRequestRaw } from 'node:http';
import { request as httpsRequestRaw } from 'node:https';

/** TLS material for probing https members: the CA to trust, and a client certificate if they ask for one. */
export interface ProbeTLS {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** What a small HTTP exchange with a member returned. */
export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * One HTTP request with a hard overall timeout and no connection reuse, so that probing a paused or killed
 * member never hangs and never leaves a socket open. testkit does not use @etcdkit/client (no cycles).
 */
export function httpRequest(
  url: string,
  options: {
    method?: string;
    body?: string;
    timeoutMs?: number;
    headers?: Record<string, string>;
    tls?: ProbeTLS | undefined;
  } = {},
): Promise<HttpReply> {
  const { method = 'GET', body, timeoutMs = 1000, headers = {}, tls } = options;
  const send = url.startsWith('https:') ? httpsRequestRaw : httpRequestRaw;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, agent: false, headers, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`${method} ${url}: timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    function fail(error: Error): void {
      clearTimeout(timer);
      reject(error);
    }
    req.on('error', fail);
    req.end(body);
  });
}

/** GET a JSON document; `undefined` on any failure (unreachable, timeout, non-2xx, bad JSON). */
export async function tryGetJson<T>(url: string, timeoutMs = 500, tls?: ProbeTLS): Promise<T | undefined> {
  try {
    const reply = await httpRequest(url, { timeoutMs, tls });
    if (reply.status < 200 || reply.status >= 300) return undefined;
    return JSON.parse(reply.body) as T;
  } catch {
    return undefined;
  }
}

/** A v2 form PUT of one key; resolves to the HTTP status, or rejects on a transport error or timeout. */
export async function putKey(
  clientUrl: string,
  key: string,
  value: string,
  timeoutMs = 2000,
  tls?: ProbeTLS,
): Promise<number> {
  const reply = await httpRequest(`${clientUrl}/v2/keys${key}`, {
    method: 'PUT',
    body: `value=${encodeURIComponent(value)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    timeoutMs,
    tls,
  });
  return reply.status;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Where testkit itself reaches a member: its own client URL (past any client proxy) and its TLS material. */
export function probeTarget(member: { clientURL: string }): { url: string; tls: ProbeTLS | undefined } {
  const own = member as { directClientURL?: string; probeTLS?: ProbeTLS };
  return { url: own.directClientURL ?? member.clientURL, tls: own.probeTLS };
}
