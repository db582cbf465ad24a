import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A small HTTP server on 127.0.0.1 that answers what etcd never would. Closed by `await using`. */
export interface HostileServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The requests it saw: method, path and headers (lower-case names). */
  readonly seen: { method: string; path: string; headers: IncomingMessage['headers'] }[];
}

export async function hostileServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<HostileServer> {
  const seen: HostileServer['seen'] = [];
  const server = createServer((request, response) => {
    seen.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers });
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A handler that answers every request with a keys reply of `body` and the given `X-Etcd-Index`. */
export function keysReplyWith(body: object, index = '7') {
  return (_request: IncomingMessage, response: ServerResponse): void => {
    response.writeHead(200, { 'content-type': 'application/json', 'x-etcd-index': index });
    response.end(JSON.stringify(body));
  };
}

/** Every string reachable from a value through own properties (enumerable or not), `cause` included. */
export function reachableText(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || seen.has(value)) return String(value);
  seen.add(value);
  const parts: string[] = [];
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor && 'value' in descriptor) parts.push(String(key), reachableText(descriptor.value, seen));
  }
  return parts.join(' ');
}
