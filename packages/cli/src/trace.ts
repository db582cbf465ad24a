/**
 * What the CLI knows about its traffic: which endpoints answered at all (for error messages, from undici's
 * diagnostics channels), and with `--debug` the client's cURL lines and one line per event of the client's and
 * the recipes' diagnostics channels (requests, failovers, member health, watches, locks, sessions, elections,
 * the registry). Only message fields are printed, and of errors only their message: never headers, never
 * credentials.
 */
import { subscribe } from 'node:diagnostics_channel';
import {
  ClientChannels,
  enableCurlDebug,
  type FailoverMessage,
  type MemberHealthMessage,
  type RequestEndMessage,
  type RequestErrorMessage,
  type WatchEventMessage,
  type WatchMoveMessage,
  type WatchResyncMessage,
} from '@etcdkit/client';
import {
  type AcquiredMessage,
  type AtRiskMessage,
  type EnqueueMessage,
  type HandoffMessage,
  type LeaderMessage,
  type LostMessage,
  RecipeChannels,
  type RegistryMessage,
  type ReleasedMessage,
} from '@etcdkit/recipes';

interface TracedRequest {
  readonly origin?: unknown;
}

const answered = new Set<string>();
let started = false;
let debugging = false;

function originOf(request: TracedRequest): string {
  return String(request.origin ?? '').replace(/\/+$/, '');
}

/** An error's message on one line (the client's and recipes' errors carry no credentials); no cause, no stack. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}

const ms = (value: number): string => `${Math.round(value)} ms`;

/** `GET http://127.0.0.1:2379/v2/keys/x?quorum=true`, with the attempt and redirect hop when not the first. */
function requestOf(m: RequestEndMessage | RequestErrorMessage): string {
  const notes = [
    ...(m.attempt > 1 ? [`attempt ${m.attempt}`] : []),
    ...(m.hop > 0 ? [`redirect ${m.hop}`] : []),
  ];
  return `${m.method} ${m.origin}${m.path}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

/** The debug line of each event, by channel name. */
const LINES: Record<string, (message: never) => string> = {
  [ClientChannels.requestEnd]: (m: RequestEndMessage) => `${m.status} ${requestOf(m)} ${ms(m.durationMs)}`,
  [ClientChannels.requestError]: (m: RequestErrorMessage) =>
    `failed ${requestOf(m)} after ${ms(m.durationMs)}: ${messageOf(m.error)}`,
  [ClientChannels.failover]: (m: FailoverMessage) =>
    `failover (${m.kind}) of ${m.call.operation}${m.call.key === undefined ? '' : ` ${m.call.key}`}: ` +
    `${m.from} → ${m.to}: ${messageOf(m.error)}`,
  [ClientChannels.memberHealth]: (m: MemberHealthMessage) =>
    `member ${m.endpoint} is ${m.state}: ${m.reason}${m.error === undefined ? '' : `: ${messageOf(m.error)}`}`,
  [ClientChannels.watchEvent]: (m: WatchEventMessage) =>
    `watch ${m.watch.key}: ${m.action}${m.key === m.watch.key ? '' : ` ${m.key}`} at ${m.modifiedIndex}` +
    `${m.lag > 0 ? ` (${m.lag} behind)` : ''}`,
  [ClientChannels.watchResync]: (m: WatchResyncMessage) =>
    `watch ${m.watch.key}: resynced at index ${m.index} (etcd's history was cleared past the wait)`,
  [ClientChannels.watchMove]: (m: WatchMoveMessage) =>
    `watch ${m.watch.key}: moved ${m.from} → ${m.to} at index ${m.waitIndex}: ${messageOf(m.error)}`,
  [RecipeChannels.enqueue]: (m: EnqueueMessage) => `${m.recipe} ${m.name}: queued ${m.key}`,
  [RecipeChannels.acquired]: (m: AcquiredMessage) =>
    `${m.recipe} ${m.name}: acquired ${m.key} after waiting ${ms(m.waitMs)} (fencing token ${m.fencingToken})`,
  [RecipeChannels.released]: (m: ReleasedMessage) =>
    `${m.recipe} ${m.name}: released ${m.key} after holding ${ms(m.holdMs)}`,
  [RecipeChannels.handoff]: (m: HandoffMessage) =>
    `${m.recipe} ${m.name}: handed over to ${m.key} ${ms(m.handoffMs)} after ${m.previousKey} went away`,
  [RecipeChannels.atRisk]: (m: AtRiskMessage) =>
    `at risk: ${m.key}: ${m.why} (still valid for ${ms(m.validForMs)})`,
  [RecipeChannels.lost]: (m: LostMessage) => `lost: ${m.key}: ${m.why}`,
  [RecipeChannels.electionLeader]: (m: LeaderMessage) =>
    m.key === undefined
      ? `election ${m.name}: no leader`
      : `election ${m.name}: leader ${JSON.stringify(m.value ?? '')} ${m.key}${m.self ? ' (this process)' : ''} ` +
        `(fencing token ${m.createdIndex})`,
  [RecipeChannels.registryAdd]: (m: RegistryMessage) => `registry ${m.service}: ${m.id} added (${m.key})`,
  [RecipeChannels.registryRemove]: (m: RegistryMessage) => `registry ${m.service}: ${m.id} removed`,
  [RecipeChannels.registryExpire]: (m: RegistryMessage) => `registry ${m.service}: ${m.id} expired`,
};

/**
 * Starts recording; with `debug`, also prints the cURL lines and one line per client and recipe event to
 * stderr (nothing is subscribed, so nothing is built, without it).
 */
export function startTrace(debug: boolean): void {
  if (debug && !debugging) {
    debugging = true;
    enableCurlDebug();
    for (const [name, line] of Object.entries(LINES)) {
      subscribe(name, (message) => {
        let text: string;
        try {
          text = line(message as never);
        } catch {
          return; // a message not of the documented shape: not worth failing the command for
        }
        process.stderr.write(`etcdkit: debug: ${text}\n`);
      });
    }
  }
  if (started) return;
  started = true;
  subscribe('undici:request:headers', (message) => {
    answered.add(originOf((message as { request: TracedRequest }).request));
  });
}

/** True once any endpoint sent a reply (any status) in this process. */
export function anyAnswered(): boolean {
  return answered.size > 0;
}

/** True when `--debug` is on. */
export function isDebugging(): boolean {
  return debugging;
}

/** Prints a debug line to stderr when `--debug` is on. */
export function debug(text: string): void {
  if (debugging) process.stderr.write(`etcdkit: debug: ${text}\n`);
}
