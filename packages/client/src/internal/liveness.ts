import type { Dispatcher } from 'undici';
import { EndpointError } from '../errors.js';
import { dispatchRequest, ReplyTooLarge } from './dispatch.js';
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

/** The most of a `/health` body a probe reads (64 KiB). */
const MAX_HEALTH_BODY = 64 * 1024;

/**
 * One `/health` probe with a hard timeout. A member counts as failed only when it does not answer in time,
 * cannot be reached at all, or says it is unhealthy (`{"health":"false"}`, what etcd answers when cut off from
 * the quorum). Any other answer (200, a 404 from a reverse proxy that exposes only `/v2/`, a body that is not
 * JSON) shows that the member is alive and answering, so the watch keeps waiting on it, as Go's would.
 * At most {@link MAX_HEALTH_BODY} bytes are read: a longer body is not etcd's verdict either (a member's is
 * under 100 bytes), and an endless one cannot grow memory for the length of the probe.
 */
export async function probeHealth(
  dispatcher: Dispatcher,
  endpoint: Endpoint,
  timeoutMs: number,
): Promise<boolean> {
  try {
    const reply = await dispatchRequest(
      dispatcher,
      {
        origin: endpoint.url.origin,
        path: `${endpoint.path.replace(/\/$/, '')}/health`,
        method: 'GET',
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      AbortSignal.timeout(timeoutMs),
      MAX_HEALTH_BODY,
    );
    return !reportsUnhealthy(reply.body);
  } catch (error) {
    return error instanceof ReplyTooLarge;
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
