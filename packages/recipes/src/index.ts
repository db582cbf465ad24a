export { Barrier, BarrierHeldError, type BarrierOptions } from './barrier.js';
export { SessionKey } from './core/kept-key.js';
export type { KeptNode } from './core/own-writes.js';
export { Session, type SessionOptions } from './core/session.js';
export {
  type AcquiredMessage,
  type AtRiskMessage,
  type EnqueueMessage,
  type HandoffMessage,
  type LeaderMessage,
  type LostMessage,
  RecipeChannels,
  type RegistryMessage,
  type ReleasedMessage,
} from './diagnostics.js';
export { DoubleBarrier, TooManyMembersError } from './double-barrier.js';
export { Election, type ElectionOptions, type LeaderInfo, type Term } from './election.js';
export {
  RecipeError,
  ReleasedError,
  SessionExpiredError,
  SessionLostError,
  StaleTokenError,
} from './errors.js';
export { FencedKey, type FencedValue } from './fencing.js';
export type { AcquireOptions, HeldLock } from './held-lock.js';
export type { RecipeKeys, RecipeWatcher } from './keys.js';
export { Lock, type LockOptions } from './lock.js';
export { Queue, type QueueItem, type QueueOptions } from './queue.js';
export {
  Registration,
  ServiceCache,
  type ServiceChange,
  ServiceIdTakenError,
  type ServiceInstance,
  type ServiceInstanceSpec,
  ServiceRegistry,
  type ServiceRegistryOptions,
} from './registry.js';
export { RWLock } from './rwlock.js';
export { Semaphore } from './semaphore.js';
