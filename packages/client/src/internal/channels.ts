import { channel } from 'node:diagnostics_channel';
import { type CallInfo, ClientChannels, type WatchInfo } from '../diagnostics.js';

/** The channel objects, made once. */
export const channels = {
  callStart: channel(ClientChannels.callStart),
  callEnd: channel(ClientChannels.callEnd),
  callError: channel(ClientChannels.callError),
  requestStart: channel(ClientChannels.requestStart),
  requestHeaders: channel(ClientChannels.requestHeaders),
  requestEnd: channel(ClientChannels.requestEnd),
  requestError: channel(ClientChannels.requestError),
  failover: channel(ClientChannels.failover),
  memberHealth: channel(ClientChannels.memberHealth),
  watchStart: channel(ClientChannels.watchStart),
  watchEvent: channel(ClientChannels.watchEvent),
  watchResync: channel(ClientChannels.watchResync),
  watchMove: channel(ClientChannels.watchMove),
};

/** Whether any channel that needs a {@link CallInfo} has a subscriber. */
export function tracingCalls(): boolean {
  return (
    channels.callStart.hasSubscribers ||
    channels.callEnd.hasSubscribers ||
    channels.callError.hasSubscribers ||
    channels.requestStart.hasSubscribers ||
    channels.requestHeaders.hasSubscribers ||
    channels.requestEnd.hasSubscribers ||
    channels.requestError.hasSubscribers ||
    channels.failover.hasSubscribers ||
    channels.watchMove.hasSubscribers
  );
}

let lastCallId = 0;
let lastWatchId = 0;

/** A new {@link CallInfo}. */
export function newCall(
  operation: string,
  key: string | undefined,
  oneShot: boolean,
  retrySafe: boolean,
  watch: WatchInfo | undefined,
): CallInfo {
  return { id: ++lastCallId, operation, key, oneShot, retrySafe, watch };
}

/** A new {@link WatchInfo}. */
export function newWatch(key: string, recursive: boolean, hub = false): WatchInfo {
  return hub ? { id: ++lastWatchId, key, recursive, hub } : { id: ++lastWatchId, key, recursive };
}

/** Whether any channel that needs a {@link WatchInfo} has a subscriber. */
export function watchTraced(): boolean {
  return (
    channels.watchStart.hasSubscribers ||
    channels.watchEvent.hasSubscribers ||
    channels.watchResync.hasSubscribers ||
    channels.watchMove.hasSubscribers ||
    tracingCalls()
  );
}

/** A call being traced: its {@link CallInfo} and the number of the attempt under way (1-based). */
export interface CallTrace {
  readonly call: CallInfo;
  attempt: number;
}

/** The reply's `X-Etcd-Index` as a number, when it has a valid one. */
function etcdIndexOf(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers['x-etcd-index'];
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Runs a call with its call:start, then call:end or call:error. */
export async function traceCall<R extends TracedReply>(trace: CallTrace, run: () => Promise<R>): Promise<R> {
  const started = performance.now();
  const { call } = trace;
  if (channels.callStart.hasSubscribers) channels.callStart.publish({ call });
  try {
    const reply = await run();
    if (channels.callEnd.hasSubscribers) {
      channels.callEnd.publish({
        call,
        endpoint: reply.endpoint.text,
        status: reply.status,
        etcdIndex: etcdIndexOf(reply.headers),
        attempts: trace.attempt,
        durationMs: performance.now() - started,
      });
    }
    return reply;
  } catch (error) {
    if (channels.callError.hasSubscribers) {
      channels.callError.publish({
        call,
        error,
        attempts: trace.attempt,
        durationMs: performance.now() - started,
      });
    }
    throw error;
  }
}

/** What {@link traceCall} reads of a reply. */
interface TracedReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly endpoint: { readonly text: string };
}
