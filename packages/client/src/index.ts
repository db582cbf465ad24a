export { AuthAPI } from './auth.js';
export { AuthRoleAPI, type Permissions, PermissionType, type Role } from './auth-role.js';
export { AuthUserAPI, type User } from './auth-user.js';
export {
  type CallOptions,
  Client,
  type ClientConfig,
  type ClientTLSOptions,
  DEFAULT_MAX_RESPONSE_SIZE,
  DEFAULT_REQUEST_TIMEOUT,
  DEFAULT_RETRY_SAFE_TIMEOUT,
  EndpointSelectionMode,
  type Versions,
} from './client.js';
export {
  type CallEndMessage,
  type CallErrorMessage,
  type CallInfo,
  type CallStartMessage,
  ClientChannels,
  type FailoverMessage,
  type MemberHealthMessage,
  type RequestEndMessage,
  type RequestErrorMessage,
  type RequestHeadersMessage,
  type RequestStartMessage,
  type WatchEventMessage,
  type WatchInfo,
  type WatchMoveMessage,
  type WatchResyncMessage,
  type WatchStartMessage,
} from './diagnostics.js';
export { type DiscoverOptions, discoverEndpoints } from './discover.js';
export {
  AuthError,
  ClientClosedError,
  ClusterError,
  DiscoveryError,
  EmptyBodyError,
  EndpointError,
  ErrorCode,
  EtcdClientError,
  EtcdError,
  HeaderTimeoutError,
  InvalidResponseError,
  InvalidValueError,
  isClientClosed,
  isClusterError,
  isDirNotEmpty,
  isEtcdClientError,
  isEtcdError,
  isEventIndexCleared,
  isKeyNotFound,
  isNodeExist,
  isNotDir,
  isNotFile,
  isRoleNotFound,
  isTestFailed,
  isUserNotFound,
  KeyOutsidePrefixError,
  MembersError,
  NoEndpointsError,
  NoLeaderEndpointError,
  RedirectError,
  ResponseTooLargeError,
  UnexpectedStatusError,
} from './errors.js';
export { type CheckRedirect, defaultCheckRedirect } from './internal/attempt.js';
export { disableCurlDebug, enableCurlDebug } from './internal/curl.js';
export {
  type CreateInOrderOptions,
  DEFAULT_KEYS_PREFIX,
  type DeleteOptions,
  type GetOptions,
  KeysAPI,
  type KeysAPIOptions,
  type Node,
  type Response,
  type SetOptions,
} from './keys.js';
export { type Member, MembersAPI } from './members.js';
export { Watcher, type WatcherOptions } from './watcher.js';
