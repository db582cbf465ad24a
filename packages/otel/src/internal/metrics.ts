import type { Attributes, Meter } from '@opentelemetry/api';
import {
  type AcquiredMessage,
  type CallEndMessage,
  type CallErrorMessage,
  clientChannels,
  type FailoverMessage,
  type KeptKeyMessage,
  type LeaderMessage,
  type MemberHealthMessage,
  type RecipeMessage,
  type RegistryMessage,
  type ReleasedMessage,
  recipeChannels,
  type WatchEventMessage,
  type WatchMoveMessage,
} from '../channels.js';
import { MetricNames } from '../metric-names.js';
import { DB_SYSTEM, errorType, serverAttributes } from './attributes.js';
import type { Subscriptions } from './subscriptions.js';

/** OpenTelemetry's recommended boundaries for a duration in seconds (HTTP and database client semconv). */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Lock waits and holds last from milliseconds to minutes. */
const LOCK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Store indexes behind: 0 for an event waited for, more when caught up from etcd's history (1000 at most). */
const LAG_BUCKETS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

function recipeAttributes(message: RecipeMessage): Attributes {
  return { 'etcdkit.recipe.type': message.recipe, 'etcdkit.recipe.name': message.name };
}

/** Creates the instruments and records the client's and recipes' events into them. */
export function recordMetrics(subscriptions: Subscriptions, meter: Meter): void {
  const callDuration = meter.createHistogram(MetricNames.clientOperationDuration, {
    description:
      'Duration of etcd client calls, retries and failovers included (watch waits are not counted).',
    unit: 's',
    advice: { explicitBucketBoundaries: CALL_BUCKETS },
  });
  const failovers = meter.createCounter(MetricNames.failovers, {
    description: 'Times the client left a member for another; server.address is the member left.',
    unit: '{failover}',
  });
  const suspects = meter.createCounter(MetricNames.memberSuspect, {
    description: 'Times a member became suspect (tried last until it answers again).',
    unit: '{transition}',
  });
  const lag = meter.createHistogram(MetricNames.watchLag, {
    description: 'How many store indexes a watcher was behind when it got an event.',
    unit: '{index}',
    advice: { explicitBucketBoundaries: LAG_BUCKETS },
  });
  const moves = meter.createCounter(MetricNames.watchMoves, {
    description: 'Times a waiting watch moved to another member; server.address is the member left.',
    unit: '{move}',
  });
  const resyncs = meter.createCounter(MetricNames.watchResyncs, {
    description: 'Times a watcher re-read its key after its index was cleared from history (error 401).',
    unit: '{resync}',
  });
  const lockWait = meter.createHistogram(MetricNames.lockWaitDuration, {
    description:
      'From the call to acquire (or campaign) to held, for locks, read and write locks, semaphore permits and won elections.',
    unit: 's',
    advice: { explicitBucketBoundaries: LOCK_BUCKETS },
  });
  const lockHold = meter.createHistogram(MetricNames.lockHoldDuration, {
    description: 'From held to released by the holder.',
    unit: 's',
    advice: { explicitBucketBoundaries: LOCK_BUCKETS },
  });
  const handoffs = meter.createCounter(MetricNames.lockHandoffs, {
    description: 'Times a waiter became holder because the holder ahead of it went away.',
    unit: '{handoff}',
  });
  const lost = meter.createCounter(MetricNames.sessionLost, {
    description: 'Kept keys (held locks, terms, registrations, waiters) lost.',
    unit: '{key}',
  });
  const atRisk = meter.createCounter(MetricNames.sessionAtRisk, {
    description: 'Refreshes of a kept key that failed while the key was still valid.',
    unit: '{refresh}',
  });
  const leaderChanges = meter.createCounter(MetricNames.electionLeaderChanges, {
    description: "Changes of an election's leader, as this process saw them.",
    unit: '{change}',
  });
  const registryChanges = meter.createCounter(MetricNames.registryChanges, {
    description: 'Instances a registry watcher saw appear, removed or expire.',
    unit: '{change}',
  });

  subscriptions.on<CallEndMessage>(clientChannels.callEnd, (message) => {
    if (message.call.operation === 'watch') return;
    const attributes: Attributes = {
      'db.system.name': DB_SYSTEM,
      'db.operation.name': message.call.operation,
      ...serverAttributes(message.endpoint),
      'http.response.status_code': message.status,
    };
    if (message.status >= 500) attributes['error.type'] = String(message.status);
    callDuration.record(message.durationMs / 1000, attributes);
  });
  subscriptions.on<CallErrorMessage>(clientChannels.callError, (message) => {
    if (message.call.operation === 'watch') return;
    callDuration.record(message.durationMs / 1000, {
      'db.system.name': DB_SYSTEM,
      'db.operation.name': message.call.operation,
      'error.type': errorType(message.error),
    });
  });
  subscriptions.on<FailoverMessage>(clientChannels.failover, (message) => {
    failovers.add(1, {
      'db.system.name': DB_SYSTEM,
      'etcdkit.failover.kind': message.kind,
      ...serverAttributes(message.from),
      'error.type': errorType(message.error),
    });
  });
  subscriptions.on<MemberHealthMessage>(clientChannels.memberHealth, (message) => {
    if (message.state !== 'suspect') return;
    suspects.add(1, { 'db.system.name': DB_SYSTEM, ...serverAttributes(message.endpoint) });
  });
  subscriptions.on<WatchEventMessage>(clientChannels.watchEvent, (message) => {
    lag.record(message.lag, { 'db.system.name': DB_SYSTEM });
  });
  subscriptions.on<WatchMoveMessage>(clientChannels.watchMove, (message) => {
    moves.add(1, {
      'db.system.name': DB_SYSTEM,
      ...serverAttributes(message.from),
      'error.type': errorType(message.error),
    });
  });
  subscriptions.on<unknown>(clientChannels.watchResync, () => {
    resyncs.add(1, { 'db.system.name': DB_SYSTEM });
  });

  subscriptions.on<AcquiredMessage>(recipeChannels.acquired, (message) => {
    lockWait.record(message.waitMs / 1000, recipeAttributes(message));
  });
  subscriptions.on<ReleasedMessage>(recipeChannels.released, (message) => {
    lockHold.record(message.holdMs / 1000, recipeAttributes(message));
  });
  subscriptions.on<RecipeMessage>(recipeChannels.handoff, (message) => {
    handoffs.add(1, recipeAttributes(message));
  });
  subscriptions.on<KeptKeyMessage>(recipeChannels.lost, (message) => {
    lost.add(1, { 'error.type': errorType(message.error) });
  });
  subscriptions.on<KeptKeyMessage>(recipeChannels.atRisk, (message) => {
    atRisk.add(1, { 'error.type': errorType(message.error) });
  });
  subscriptions.on<LeaderMessage>(recipeChannels.electionLeader, (message) => {
    leaderChanges.add(1, {
      'etcdkit.recipe.type': 'election',
      'etcdkit.recipe.name': message.name,
      'etcdkit.election.self': message.self,
    });
  });
  const registry = (change: string) => (message: RegistryMessage) => {
    registryChanges.add(1, {
      'etcdkit.registry.change': change,
      'etcdkit.registry.service': message.service,
    });
  };
  subscriptions.on<RegistryMessage>(recipeChannels.registryAdd, registry('add'));
  subscriptions.on<RegistryMessage>(recipeChannels.registryRemove, registry('remove'));
  subscriptions.on<RegistryMessage>(recipeChannels.registryExpire, registry('expire'));
}
