import type { Dispatcher } from 'undici';
import { EndpointError } from '../errors.js';
import type { Endpoint } from './endpoints.js';

/**
 * Watches an endpoint while a long request (a watch) waits on it: every `intervalMs` it asks the member's
 * `/health`, which answers `false` on a member cut off from the quorum (caveat 4 of the Go client) and not
 * at all from a SIGSTOPed one (caveat 3). After two failed probes in a row the returned signal aborts with an
 * {@link EndpointError}, so the watch moves to another member with the same index.
 */
export function watchLiveness(
  dispatcher: Dispatcher,
  endpoint: Endpoint,
  intervalMs: number,
): {
  signal: AbortSignal;
  stop: () => void;
} {
  const controller = new AbortController();
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const probe = async (): Promise<void> => {
    const healthy = await probeHealth(dispatcher, endpoint, intervalMs);
    if (stopped) return;
    failures = healthy ? 0 : failures + 1;
    if (failures >= 2) {
      controller.abort(
        new EndpointError(endpoint.text, `client: endpoint ${endpoint.text} failed its health check`),
      );
      return;
    }
    schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => void probe(), intervalMs);
    timer.unref();
  };
  schedule();
  return {
    signal: controller.signal,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** One `/health` probe with a hard timeout: true only for `{"health":"true"}`. */
export async function probeHealth(
  dispatcher: Dispatcher,
  endpoint: Endpoint,
  timeoutMs: number,
): Promise<boolean> {
  try {
    const reply = await dispatcher.request({
      origin: endpoint.url.origin,
      path: `${endpoint.path.replace(/\/$/, '')}/health`,
      method: 'GET',
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    const body = (await reply.body.json()) as { health?: string };
    return reply.statusCode === 200 && body.health === 'true';
  } catch {
    return false;
  }
}
