/**
 * The names of the metrics {@link instrument} records. Part of the public API: they do not change within a
 * major version. Durations are in seconds (`s`), counts in UCUM annotations (`{failover}`, ...).
 */
export const MetricNames = {
  /**
   * Histogram, `s`: one client call, retries and failovers included (OpenTelemetry's database client metric).
   * Watch waits are not recorded: their duration is the time until the next event. Attributes:
   * `db.system.name` (`etcd`), `db.operation.name`, and `server.address`, `server.port` and
   * `http.response.status_code` of the reply, or `error.type` of a call that failed.
   */
  clientOperationDuration: 'db.client.operation.duration',
  /**
   * Counter, `{failover}`: the client left a member for another. Attributes: `etcdkit.failover.kind` (`retry`:
   * the call goes on at the next member; `pin`: a one-shot call failed and the next calls go elsewhere),
   * `server.address` and `server.port` of the member left, `error.type` of why.
   */
  failovers: 'etcdkit.client.failovers',
  /** Counter, `{transition}`: a member became suspect. Attributes: `server.address`, `server.port`. */
  memberSuspect: 'etcdkit.client.member.suspect',
  /**
   * Histogram, `{index}`: how many store indexes a watcher was behind when it got an event (0 for an event it
   * waited for).
   */
  watchLag: 'etcdkit.watch.lag',
  /**
   * Counter, `{move}`: a waiting watch moved to another member. Attributes: `server.address`, `server.port`
   * of the member left, `error.type`.
   */
  watchMoves: 'etcdkit.watch.moves',
  /** Counter, `{resync}`: a watcher re-read its key after etcd cleared its index from history (error 401). */
  watchResyncs: 'etcdkit.watch.resyncs',
  /**
   * Histogram, `s`: from the call to acquire (or campaign) to held (locks, read and write locks, semaphore
   * permits, won elections). Attributes: `etcdkit.recipe.type` (`lock`, `rwlock`, `semaphore`, `election`),
   * `etcdkit.recipe.name`.
   */
  lockWaitDuration: 'etcdkit.lock.wait.duration',
  /** Histogram, `s`: from held to released by its holder. Attributes as for the wait. */
  lockHoldDuration: 'etcdkit.lock.hold.duration',
  /**
   * Counter, `{handoff}`: a waiter became holder because the holder ahead of it went away. Attributes as
   * for the wait.
   */
  lockHandoffs: 'etcdkit.lock.handoffs',
  /**
   * Counter, `{key}`: a kept key (a held lock, a term, a registration, a waiter) was lost. Attribute:
   * `error.type` (`SessionLostError`).
   */
  sessionLost: 'etcdkit.session.lost',
  /**
   * Counter, `{refresh}`: a kept key's refresh failed while the key was still valid. Attribute: `error.type`
   * of the refresh.
   */
  sessionAtRisk: 'etcdkit.session.at_risk',
  /**
   * Counter, `{change}`: an election's leader changed, as this process saw it. Attributes:
   * `etcdkit.recipe.type` (`election`), `etcdkit.recipe.name`, `etcdkit.election.self` (whether the new
   * leader is a campaign of this process).
   */
  electionLeaderChanges: 'etcdkit.election.leader_changes',
  /**
   * Counter, `{change}`: a registry watcher saw an instance appear, removed or expire. Attributes:
   * `etcdkit.registry.change` (`add`, `remove`, `expire`), `etcdkit.registry.service`.
   */
  registryChanges: 'etcdkit.registry.changes',
} as const;
