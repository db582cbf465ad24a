/**
 * Counts the HTTP requests `@etcdkit/client` sends for one call, from its documented diagnostics channels
 * (`etcdkit:client:request:start` and `:request:error`, published in the caller's async context), without
 * importing the client. A request that failed with a refused connection was never sent, and is not counted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { isConnectionRefused } from './classify.js';

interface Counter {
  started: number;
  refused: number;
}

const calls = new AsyncLocalStorage<Counter>();
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  subscribe('etcdkit:client:request:start', () => {
    const counter = calls.getStore();
    if (counter) counter.started++;
  });
  subscribe('etcdkit:client:request:error', (message) => {
    const counter = calls.getStore();
    if (counter && isConnectionRefused((message as { error?: unknown }).error)) counter.refused++;
  });
}

/**
 * Runs `fn` and tells how many requests it may have delivered: `undefined` when no request of
 * `@etcdkit/client` was seen (another client, or none sent).
 */
export async function countingRequests<T>(
  fn: () => Promise<T>,
): Promise<{ readonly result: { value: T } | { error: unknown }; readonly requests: number | undefined }> {
  listen();
  const counter: Counter = { started: 0, refused: 0 };
  let result: { value: T } | { error: unknown };
  try {
    result = { value: await calls.run(counter, fn) };
  } catch (error) {
    result = { error };
  }
  return { result, requests: counter.started === 0 ? undefined : counter.started - counter.refused };
}
