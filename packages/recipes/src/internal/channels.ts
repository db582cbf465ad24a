import { channel } from 'node:diagnostics_channel';
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
} from '../diagnostics.js';

/**
 * The channel objects, made once. Every publisher below checks `hasSubscribers` before it builds its message,
 * so a channel nobody listens to costs one property read.
 */
export const channels = {
  enqueue: channel(RecipeChannels.enqueue),
  acquired: channel(RecipeChannels.acquired),
  released: channel(RecipeChannels.released),
  handoff: channel(RecipeChannels.handoff),
  atRisk: channel(RecipeChannels.atRisk),
  lost: channel(RecipeChannels.lost),
  electionLeader: channel(RecipeChannels.electionLeader),
  registryAdd: channel(RecipeChannels.registryAdd),
  registryRemove: channel(RecipeChannels.registryRemove),
  registryExpire: channel(RecipeChannels.registryExpire),
};

export function publishEnqueue(recipe: string, name: string, key: string, createdIndex: number): void {
  if (!channels.enqueue.hasSubscribers) return;
  const message: EnqueueMessage = { recipe, name, key, createdIndex };
  channels.enqueue.publish(message);
}

export function publishAcquired(
  recipe: string,
  name: string,
  key: string,
  fencingToken: number,
  waitMs: number,
): void {
  if (!channels.acquired.hasSubscribers) return;
  const message: AcquiredMessage = { recipe, name, key, fencingToken, waitMs };
  channels.acquired.publish(message);
}

export function publishReleased(recipe: string, name: string, key: string, holdMs: number): void {
  if (!channels.released.hasSubscribers) return;
  const message: ReleasedMessage = { recipe, name, key, holdMs };
  channels.released.publish(message);
}

export function publishHandoff(
  recipe: string,
  name: string,
  key: string,
  previousKey: string,
  handoffMs: number,
): void {
  if (!channels.handoff.hasSubscribers) return;
  const message: HandoffMessage = { recipe, name, key, previousKey, handoffMs };
  channels.handoff.publish(message);
}

/** A refresh of `key` failed with `error`; published only while the key is still valid (`validUntil`, ms). */
/** Whether anyone listens to `name` (to skip work that only feeds it). */
export function isListening(name: keyof typeof channels): boolean {
  return channels[name].hasSubscribers;
}

export function publishAtRisk(key: string, error: unknown, validUntil: number, why?: string): void {
  if (!channels.atRisk.hasSubscribers) return;
  const validForMs = validUntil - performance.now();
  if (validForMs <= 0) return; // the deadline is past: `lost` comes next
  const message: AtRiskMessage = {
    key,
    why: why ?? `a refresh failed: ${describe(error)}`,
    error,
    validForMs,
  };
  channels.atRisk.publish(message);
}

/** An error in a few words (the client's errors carry no credentials). */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return String(error);
}

export function publishLost(key: string, why: string, error: unknown): void {
  if (!channels.lost.hasSubscribers) return;
  const message: LostMessage = { key, why, error };
  channels.lost.publish(message);
}

export function publishLeader(
  name: string,
  key: string | undefined,
  value: string | undefined,
  createdIndex: number,
  self: boolean,
): void {
  if (!channels.electionLeader.hasSubscribers) return;
  const message: LeaderMessage = { recipe: 'election', name, key, value, createdIndex, self };
  channels.electionLeader.publish(message);
}

/** Which registry channel: an instance appeared, was removed (deleted, or gone at a re-read), or expired. */
export type RegistryEvent = 'registryAdd' | 'registryRemove' | 'registryExpire';

/** An instance `id` of `service` (directory `dir`; its key, or `<dir>/<id>` when not given) was seen. */
export function publishRegistry(
  event: RegistryEvent,
  service: string,
  dir: string,
  id: string,
  instance: unknown,
  key?: string,
): void {
  const target = channels[event];
  if (!target.hasSubscribers) return;
  const message: RegistryMessage = { recipe: 'registry', service, id, key: key ?? `${dir}/${id}`, instance };
  target.publish(message);
}
