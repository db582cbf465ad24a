import { MockAgent } from 'undici';
import { Client, type ClientConfig } from '../../src/index.js';
import { pinOrder } from '../order.js';

/** A request the mock saw. */
export interface Seen {
  origin: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export type Reply =
  | { status: number; body?: string | object; headers?: Record<string, string> }
  | 'error'
  | 'hang';

/**
 * A MockAgent that answers every request to the given origins with `handler` and records what it saw.
 * Only request shapes are tested this way; behaviour is tested against real etcd.
 */
export function mockCluster(origins: string[], handler: (seen: Seen) => Reply) {
  const agent = new MockAgent({ connections: 1 });
  agent.disableNetConnect();
  const seen: Seen[] = [];
  for (const origin of origins) {
    agent
      .get(new URL(origin).origin)
      .intercept({ path: () => true, method: () => true })
      .reply((options) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries((options.headers ?? {}) as Record<string, string>))
          headers[k.toLowerCase()] = v;
        const request: Seen = {
          origin,
          method: options.method,
          path: options.path,
          headers,
          body: typeof options.body === 'string' ? options.body : undefined,
        };
        seen.push(request);
        const reply = handler(request);
        if (reply === 'error') throw new Error('connect ECONNREFUSED');
        if (reply === 'hang') return { statusCode: 200, data: '' };
        const body = typeof reply.body === 'object' ? JSON.stringify(reply.body) : (reply.body ?? '');
        return { statusCode: reply.status, data: body, responseOptions: { headers: reply.headers ?? {} } };
      })
      .persist();
  }
  return { agent, seen };
}

/** A client over the mock with endpoints in the given order (not shuffled: one endpoint each time set). */
export function mockClient(
  origins: string[],
  handler: (seen: Seen) => Reply,
  config: Partial<ClientConfig> = {},
) {
  const { agent, seen } = mockCluster(origins, handler);
  const client = new Client({ endpoints: origins, dispatcher: agent, ...config });
  pinOrder(client, origins);
  return { client, seen, agent };
}

/** A successful keys reply. */
export function keysReply(action: string, node: object, index = 7): Reply {
  return {
    status: 200,
    body: { action, node },
    headers: { 'x-etcd-index': String(index), 'x-etcd-cluster-id': 'c1' },
  };
}
