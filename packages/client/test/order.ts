import type { Client } from '../src/index.js';

/** Puts the endpoints in a known order (the first is pinned): setEndpoints shuffles, so retry until it fits. */
export function pinOrder(client: Client, endpoints: readonly string[]): void {
  for (let i = 0; i < 1000; i++) {
    if (client.endpoints().join() === endpoints.join()) return;
    client.setEndpoints(endpoints);
  }
  throw new Error('could not order endpoints');
}
