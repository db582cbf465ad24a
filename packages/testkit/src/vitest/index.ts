/**
 * Helpers for vitest suites that talk to real etcd.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, inject } from 'vitest';
import { SHARED_ENDPOINTS_KEY } from './keys.js';

/**
 * The client URLs of the cluster started by `@etcdkit/testkit/vitest/global-setup`.
 *
 * @throws {Error} when the global setup is not configured.
 */
export function sharedClusterEndpoints(): string[] {
  const endpoints = inject(SHARED_ENDPOINTS_KEY);
  if (!endpoints?.length) {
    throw new Error(
      "no shared etcd cluster: add '@etcdkit/testkit/vitest/global-setup' to vitest's globalSetup",
    );
  }
  return endpoints;
}

/**
 * A key prefix no other test uses (`/etcdkit-test/<label>-<random>`), so that tests sharing a cluster never see
 * each other's keys. No trailing slash.
 */
export function uniqueKeyPrefix(label = 't'): string {
  return `/etcdkit-test/${label.replace(/[^\w-]/g, '_')}-${randomBytes(5).toString('hex')}`;
}

/**
 * Records Node's process warnings named `name` (e.g. `MaxListenersExceededWarning`) while each test of the file
 * runs (it registers `beforeEach`/`afterEach` hooks); the returned function gives their messages so far. Node
 * emits a warning on the next tick: let one pass before reading.
 */
export function recordWarnings(name: string): () => string[] {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => {
    if (warning.name === name) seen.push(warning.message);
  };
  beforeEach(() => {
    seen.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });
  return () => [...seen];
}
