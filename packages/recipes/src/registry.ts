import { isClientClosed, isNodeExist, type Node } from '@etcdkit/client';
import { followChanges } from './core/follow-changes.js';
import type { SessionKey } from './core/kept-key.js';
import { readDir } from './core/read-dir.js';
import { RetryPacing, retrying } from './core/retry.js';
import { Session, type SessionOptions } from './core/session.js';
import { GONE_ACTIONS, sleep } from './core/wait.js';
import { RecipeError, ReleasedError } from './errors.js';
import { publishRegistry } from './internal/channels.js';
import type { RecipeKeys } from './keys.js';

/** What a service instance publishes. */
export interface ServiceInstanceSpec {
  /** Service name, e.g. `api`. No `/`. */
  readonly service: string;
  /** Instance id, unique within the service. No `/`. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** Free-form metadata. */
  readonly meta?: Record<string, unknown>;
}

/** A registered instance, as read back. */
export interface ServiceInstance extends ServiceInstanceSpec {
  /** When it registered (ISO 8601, the registrant's clock). */
  readonly registeredAt: string;
}

/** A change seen by {@link ServiceRegistry.watch}. */
export interface ServiceChange {
  readonly type: 'added' | 'removed' | 'updated';
  readonly instance: ServiceInstance;
}

/** Another live registration already uses this service and id. */
export class ServiceIdTakenError extends RecipeError {
  override name = 'ServiceIdTakenError';
  override readonly code = 'ETCDKIT_SERVICE_ID_TAKEN';
}

/** A change of a service as {@link ServiceRegistry.follow} learns it: how (an event's), and of which key. */
interface Told {
  readonly change: ServiceChange;
  /** Removed by its TTL (an `expire` event), not deleted. */
  readonly expired?: boolean;
  /** The instance's key, when an event told the change. */
  readonly key?: string;
}

/** A read of a service: its live instances by id, and the index of the read. */
interface ServiceRead {
  readonly instances: Map<string, ServiceInstance>;
  readonly index: number;
}

/** Options of {@link ServiceRegistry}. */
export interface ServiceRegistryOptions extends SessionOptions {
  readonly session?: Session;
}

/** A live registration: kept alive by TTL refreshes, re-registered if its key is lost, removed by `close()`. */
export class Registration implements AsyncDisposable {
  readonly key: string;
  #instance: ServiceInstance;
  readonly #registry: ServiceRegistry;
  #kept: SessionKey | undefined;
  /** Aborted by {@link Registration.close}: nothing is published again, and a re-registration's pause ends. */
  readonly #closing = new AbortController();
  #reRegistering: Promise<void> | undefined;

  /** @internal Use {@link ServiceRegistry.register}. */
  static create(
    registry: ServiceRegistry,
    key: string,
    instance: ServiceInstance,
    kept: SessionKey,
  ): Registration {
    return new Registration(registry, key, instance, kept);
  }

  private constructor(registry: ServiceRegistry, key: string, instance: ServiceInstance, kept: SessionKey) {
    this.#registry = registry;
    this.key = key;
    this.#instance = instance;
    this.#watch(kept);
  }

  /** The instance as published. */
  get instance(): ServiceInstance {
    return this.#instance;
  }

  /** Publishes new metadata (watchers see `updated`). */
  async update(meta: Record<string, unknown>): Promise<void> {
    const next = { ...this.#instance, meta };
    await this.#kept!.update(JSON.stringify(next));
    this.#instance = next;
  }

  /** Unregisters at once (watchers see `removed`). Idempotent. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new ReleasedError(this.key, 'closed'));
    await this.#kept?.remove();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #watch(kept: SessionKey): void {
    this.#kept = kept;
    kept.signal.addEventListener(
      'abort',
      () => {
        // the registry's session was closed (a ReleasedError): nothing is published again, and close() still
        // deletes the key
        if (kept.signal.reason instanceof ReleasedError) return;
        if (!this.#closing.signal.aborted) this.#reRegistering ??= this.#reRegister();
      },
      { once: true },
    );
  }

  /** The key was lost (etcd unreachable past the TTL, or deleted): publish the instance again, with backoff. */
  async #reRegister(): Promise<void> {
    const closing = this.#closing.signal;
    const kept = await retrying(
      () => this.#registry.publish(this.key, this.#instance, true),
      RetryPacing.reRegister,
      {
        // close() ends it: no attempt starts after it, and a pause ends at once
        signal: closing,
        // nothing can publish it again: a closed client, or a closed session (a ReleasedError)
        retryable: (error) => !isClientClosed(error) && !(error instanceof ReleasedError),
      },
    ).catch(() => undefined);
    if (!kept) return;
    if (closing.aborted) {
      // published as close() came: removed (nothing waits for this: a failure is left to the TTL)
      await kept.remove().catch(() => {});
      return;
    }
    this.#reRegistering = undefined;
    this.#watch(kept);
  }
}

/**
 * A service registry (Curator's service discovery, on the etcd v2 API): instances publish themselves under
 * `<prefix>/<service>/<id>` with a TTL kept alive by refreshes that wake no watcher; consumers list, watch
 * (`added` / `removed` / `updated`) or keep a cache to pick from.
 */
export class ServiceRegistry implements AsyncDisposable {
  readonly keys: RecipeKeys;
  readonly session: Session;
  readonly #prefix: string;
  readonly #ownSession: boolean;

  constructor(keys: RecipeKeys, prefix: string, options: ServiceRegistryOptions = {}) {
    this.keys = keys;
    this.#prefix = prefix.replace(/\/+$/, '');
    this.#ownSession = !options.session;
    this.session = options.session ?? new Session(keys, options);
  }

  /**
   * Publishes an instance and keeps it alive until `close()`.
   *
   * @throws {ServiceIdTakenError} when a live registration has the same service and id.
   * @throws {ReleasedError} (`closed`) when the registry (its session) is closed.
   */
  async register(spec: ServiceInstanceSpec): Promise<Registration> {
    checkName('service', spec.service);
    checkName('id', spec.id);
    const instance: ServiceInstance = { ...spec, registeredAt: new Date().toISOString() };
    const key = `${this.#dir(spec.service)}/${spec.id}`;
    const kept = await this.publish(key, instance, false);
    return Registration.create(this, key, instance, kept);
  }

  /** @internal Creates the instance key (`prevExist=false`, TTL) and keeps it alive. */
  async publish(key: string, instance: ServiceInstance, again: boolean): Promise<SessionKey> {
    try {
      return await this.session.create(key, JSON.stringify(instance));
    } catch (error) {
      if (isNodeExist(error)) {
        throw new ServiceIdTakenError(
          `${again ? 're-registering: ' : ''}instance ${instance.id} of ${instance.service} is registered already`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** The live instances of a service (a quorum read), sorted by id. */
  async list(service: string, options: { signal?: AbortSignal } = {}): Promise<ServiceInstance[]> {
    return [...(await this.#read(service, options.signal)).instances.values()].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
  }

  /**
   * Follows a service: first an `added` for every live instance, then each change. After error 401 or a
   * failed watch it re-reads and reports the difference, so nothing is missed; while nothing changes it reads
   * nothing (a member that stops answering is left by the client's liveness check, not by a timer). A read
   * that no member answered is tried again after 100 ms; etcd's own error from a read, or a closed client,
   * ends it with that error; an abort of `signal` ends it quietly.
   */
  watch(
    service: string,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<ServiceChange, void, undefined> {
    return this.follow(service, new Map(), options.signal);
  }

  /**
   * @internal {@link watch}, reporting changes against the instances the caller knows already (read by the
   * caller: published on `registry:add` here, as the watcher's first read would, unless `announced`); with
   * `readAt`, the index of the read they came from, it watches on from there instead of reading first.
   */
  async *follow(
    service: string,
    initial: ReadonlyMap<string, ServiceInstance>,
    signal: AbortSignal | undefined,
    readAt?: number,
    announced = false,
  ): AsyncGenerator<ServiceChange, void, undefined> {
    const dir = this.#dir(service);
    if (!announced)
      for (const instance of initial.values())
        publishRegistry('registryAdd', service, dir, instance.id, instance);
    // no watchdog (a re-read of the whole service per TTL while nothing changes): the client moves a watch off
    // a member that stops answering (its liveness check); an error 401 or a failed watch re-reads
    const changes = followChanges<ServiceRead, Told>(this.keys, {
      signal,
      // `initial` read at `readAt`: watch on from there, no read of its own first
      known: { instances: new Map(initial), index: readAt ?? 0 },
      knownIsRead: readAt !== undefined,
      read: (at) => this.#read(service, at),
      // a re-read tells a removal, not how: `remove`
      changes: (before, after) =>
        [...diff(before?.instances ?? new Map(), after.instances)].map((change) => ({ change })),
      target: () => ({ key: dir, recursive: true }),
      learn: ({ instances }, event) => {
        const node = event.node!;
        const state = { instances, index: node.modifiedIndex };
        const id = node.key.slice(dir.length + 1);
        if (id.includes('/') || id === '') return { state, changes: [] };
        if (GONE_ACTIONS.has(event.action)) {
          const gone = instances.get(id);
          if (!gone) return { state, changes: [] };
          instances.delete(id);
          const expired = event.action === 'expire';
          return {
            state,
            changes: [{ change: { type: 'removed', instance: gone }, expired, key: node.key }],
          };
        }
        const instance = parseInstance(node);
        if (!instance) return { state, changes: [] };
        const before = instances.get(id);
        instances.set(id, instance);
        return {
          state,
          changes: [{ change: { type: before ? 'updated' : 'added', instance }, key: node.key }],
        };
      },
    });
    // each change is published just before it is yielded
    for await (const { change, expired, key } of changes) {
      if (change.type !== 'updated') {
        const event = change.type === 'added' ? 'registryAdd' : expired ? 'registryExpire' : 'registryRemove';
        publishRegistry(event, service, dir, change.instance.id, change.instance, key);
      }
      yield change;
    }
  }

  /** @internal The live instances of a service, by id, and the index of the read (a quorum read). */
  snapshot(service: string, signal?: AbortSignal): Promise<ServiceRead> {
    return this.#read(service, signal);
  }

  /** A local copy of a service's instances, kept current by {@link watch}. Close it when done. */
  cache(service: string): ServiceCache {
    return ServiceCache.create(this, service);
  }

  /** Stops the registry's own session (registrations then expire by TTL unless closed). */
  async close(): Promise<void> {
    if (this.#ownSession) await this.session.close();
  }

  /** Same as {@link ServiceRegistry.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #dir(service: string): string {
    return `${this.#prefix}/${service}`;
  }

  async #read(service: string, signal: AbortSignal | undefined): Promise<ServiceRead> {
    const { nodes, index } = await readDir(this.keys, this.#dir(service), signal);
    const instances = new Map<string, ServiceInstance>();
    for (const node of nodes) {
      const instance = parseInstance(node);
      if (instance) instances.set(instance.id, instance);
    }
    return { instances, index };
  }
}

/** A live local view of one service, for picking an instance per request. */
export class ServiceCache implements AsyncDisposable {
  readonly #controller = new AbortController();
  readonly #instances = new Map<string, ServiceInstance>();
  readonly #ready: Promise<void>;
  #next = 0;

  /** @internal Use {@link ServiceRegistry.cache}. */
  static create(registry: ServiceRegistry, service: string): ServiceCache {
    return new ServiceCache(registry, service);
  }

  private constructor(registry: ServiceRegistry, service: string) {
    let markReady: () => void = () => {};
    this.#ready = new Promise((resolve) => {
      markReady = resolve;
    });
    const { signal } = this.#controller;
    void (async () => {
      // one read: the follow watches on from its index (a failed read: the follow reads first)
      const first = await registry.snapshot(service, signal).catch(() => undefined);
      for (const instance of first?.instances.values() ?? []) this.#instances.set(instance.id, instance);
      markReady();
      let readAt = first?.index;
      let announced = false;
      /** One follow, until it ends quietly or fails; `again` when it failed after it had told changes. */
      const followOnce = async (): Promise<'ended' | 'again'> => {
        let told = false;
        try {
          for await (const change of registry.follow(service, this.#instances, signal, readAt, announced)) {
            if (change.type === 'removed') this.#instances.delete(change.instance.id);
            else this.#instances.set(change.instance.id, change.instance);
            told = true;
          }
          return 'ended';
        } catch (error) {
          // the next follow reads first, and tells the difference from what the cache holds
          readAt = undefined;
          announced = true;
          if (told) return 'again';
          throw error;
        }
      };
      // the follow ends on etcd's own error (a read refused): follow again, from a read, after a pause that
      // grows while the follows fail before they tell anything (the first pause after one that told some)
      const retryable = (error: unknown) => !isClientClosed(error);
      while ((await retrying(followOnce, RetryPacing.followAgain, { signal, retryable })) === 'again')
        await sleep(RetryPacing.followAgain.firstMs, signal);
    })().catch(() => markReady());
  }

  /** Resolves once the first read is in. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The instances known now, sorted by id. */
  instances(): ServiceInstance[] {
    return [...this.#instances.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** One instance, by `round-robin` (default) or `random`; `undefined` when there is none. */
  pick(strategy: 'round-robin' | 'random' = 'round-robin'): ServiceInstance | undefined {
    const all = this.instances();
    if (all.length === 0) return undefined;
    if (strategy === 'random') return all[Math.floor(Math.random() * all.length)];
    return all[this.#next++ % all.length];
  }

  /** Stops following the service. */
  close(): void {
    this.#controller.abort();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

function* diff(
  before: Map<string, ServiceInstance>,
  after: Map<string, ServiceInstance>,
): Generator<ServiceChange, void, undefined> {
  for (const [id, instance] of before) if (!after.has(id)) yield { type: 'removed', instance };
  for (const [id, instance] of after) {
    const old = before.get(id);
    if (!old) yield { type: 'added', instance };
    else if (JSON.stringify(old) !== JSON.stringify(instance)) yield { type: 'updated', instance };
  }
}

function parseInstance(node: Node): ServiceInstance | undefined {
  try {
    const value = JSON.parse(node.value) as ServiceInstance;
    return typeof value.id === 'string' && typeof value.service === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function checkName(what: string, name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('/') || name === '.' || name === '..') {
    throw new RangeError(`${what} must be a non-empty name without "/", got ${JSON.stringify(name)}`);
  }
}
