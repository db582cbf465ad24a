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

/**
 * One `/health` probe with a hard timeout. A member counts as failed only when it does not answer in time,
 * cannot be reached at all, or says it is unhealthy (`{"health":"false"}`, what etcd answers when cut off from
 * the quorum). Any other answer (200, a 404 from a reverse proxy that exposes only `/v2/`, a body that is not
 * JSON) shows that the member is alive and answering, so the watch keeps waiting on it, as Go's would.
 */
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
    return !reportsUnhealthy(await reply.body.text());
  } catch {
    return false;
  }
}

/** Whether a `/health` body is etcd's own verdict of an unhealthy member. */
function reportsUnhealthy(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as unknown;
    return (
      typeof parsed === 'object' && parsed !== null && (parsed as { health?: unknown }).health === 'false'
    );
  } catch {
    return false;
  }
}
