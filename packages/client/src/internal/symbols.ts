/**
 * Keys of the members that this package's modules call on each other and users must not: a symbol that is not
 * exported from the package index cannot be named from outside (as undici keeps `kDispatch` in its
 * `lib/core/symbols.js`). They are plain `Symbol()`s, not `Symbol.for`: another copy of the package has its
 * own, and never calls into this one.
 */

/** `Client[kDo](action, options)`: sends an action to the cluster (Go's unexported `httpClusterClient.Do`). */
export const kDo: unique symbol = Symbol('etcdkit.client.do');

/** `Watcher[kCreateWatcher](client, path, key, options)`: the factory `KeysAPI.watcher` uses. */
export const kCreateWatcher: unique symbol = Symbol('etcdkit.client.createWatcher');

/**
 * `Client[kWaitsOnTwo]`: whether a redundant wait goes to two members now (`ClientConfig.redundancy`, and more
 * than one endpoint), which the watch hubs ask.
 */
export const kWaitsOnTwo: unique symbol = Symbol('etcdkit.client.waitsOnTwo');

/** `Client[kSharedWatchThreshold]`: `ClientConfig.sharedWatchThreshold`, which the watch hubs read. */
export const kSharedWatchThreshold: unique symbol = Symbol('etcdkit.client.sharedWatchThreshold');
