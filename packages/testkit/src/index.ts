export type {
  ClientTLSFiles,
  Cluster,
  Member,
  MemberState,
  RaftTimings,
  StartClusterOptions,
} from './cluster.js';
export {
  ClusterStartError,
  ClusterTimeoutError,
  EtcdNotFoundError,
  MemberStateError,
  TestkitError,
  UnsupportedEtcdVersionError,
} from './errors.js';
export {
  assertSupportedVersion,
  type EtcdBinary,
  parseEtcdVersion,
  resolveEtcdBinary,
} from './etcd-binary.js';
export { freePorts } from './ports.js';
export { ProcessCluster, raftTimings, startProcessCluster } from './process-cluster.js';
export type { ProcessMember } from './process-member.js';
export { type StartAnyClusterOptions, startCluster } from './start-cluster.js';
export { TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export { makeTestCertificates, type TestCertificates } from './tls.js';
