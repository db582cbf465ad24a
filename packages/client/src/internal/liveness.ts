import type { Dispatcher } from 'undici';
import { dispatchRequest, ReplyTooLarge } from './dispatch.js';
import type { Endpoint } from './endpoints.js';

/** The most of a `/health` body a probe reads (64 KiB). */
const MAX_HEALTH_BODY = 64 * 1024;

/**
 * What a probe found: `'healthy'` (etcd's own `{"health":"true"}`, after a quorum read), `'answering'` (any
 * other answer that is not etcd's verdict of an unhealthy member) or `'failed'`.
 */
export type ProbeVerdict = 'healthy' | 'answering' | 'failed';

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
): Promise<ProbeVerdict> {
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
    const health = etcdVerdict(reply.body);
    if (health === 'false') return 'failed';
    return health === 'true' && reply.status === 200 ? 'healthy' : 'answering';
  } catch (error) {
    return error instanceof ReplyTooLarge ? 'answering' : 'failed';
  }
}

/** The `health` field of a `/health` body that is etcd's verdict, else `undefined`. */
function etcdVerdict(body: string): unknown {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as { health?: unknown }).health
      : undefined;
  } catch {
    return undefined;
  }
}
