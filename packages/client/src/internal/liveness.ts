import type { Dispatcher } from 'undici';
import { dispatchRequest, ReplyTooLarge } from './dispatch.js';
import type { Endpoint } from './endpoints.js';

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
      { signal: AbortSignal.timeout(timeoutMs), maxBytes: MAX_HEALTH_BODY },
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
