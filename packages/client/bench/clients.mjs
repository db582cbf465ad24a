// The clients the benches compare, each as the same small set of calls: this client, and the baseline, a
// minimal raw undici keep-alive client speaking the same wire format, with no failover and no checks (issue #13:
// "a minimal keep-alive client, no tricks").
import { Agent } from 'undici';
import { Client, KeysAPI } from '../dist/index.js';

/** This client on `endpoint`; `dispatcher` replaces its own Agent (as `ClientConfig.dispatcher` does). */
export function ourClient(endpoint, dispatcher) {
  const client = new Client({ endpoints: [endpoint], ...(dispatcher ? { dispatcher } : {}) });
  const keys = new KeysAPI(client);
  return {
    set: (key, value) => keys.set(key, value),
    get: (key) => keys.get(key),
    createInOrder: (dir, value) => keys.createInOrder(dir, value),
    watch: (key, waitIndex) => keys.watcher(key, { afterIndex: waitIndex - 1 }).next(),
    close: () => client.close(),
  };
}

/**
 * A raw client on `origin`; `dispatcher` replaces its own keep-alive Agent (e.g. an in-process one that
 * answers at once, to time the client's own CPU).
 */
export function rawClient(origin, dispatcher = new Agent({ keepAliveTimeout: 30_000 })) {
  const call = async (method, path, body) => {
    const reply = await dispatcher.request({
      origin,
      path,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' },
      body: body ?? null,
    });
    return JSON.parse(await reply.body.text());
  };
  return {
    set: (key, value) => call('PUT', `/v2/keys${key}`, `value=${encodeURIComponent(value)}`),
    get: (key) => call('GET', `/v2/keys${key}?quorum=false&recursive=false&sorted=false`),
    createInOrder: (dir, value) => call('POST', `/v2/keys${dir}`, `value=${encodeURIComponent(value)}`),
    watch: (key, waitIndex) => call('GET', `/v2/keys${key}?recursive=false&wait=true&waitIndex=${waitIndex}`),
    close: () => dispatcher.close(),
  };
}
