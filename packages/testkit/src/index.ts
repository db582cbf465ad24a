export {
  type ConvergenceResult,
  checkConvergence,
  checkFencedWrites,
  checkNoOverlap,
  checkRisingTokens,
  type Violation,
} from './checkers.js';
export { ClockSkewProxy, type ClockSkewProxyOptions, startClockSkewProxy } from './clock-skew-proxy.js';
export type {
  ClientTLSFiles,
  Cluster,
  Link,
  Member,
  MemberState,
  MemberStatus,
  RaftTimings,
  StartClusterOptions,
} from './cluster.js';
export { DockerBridgeNetwork } from './docker/bridge-network.js';
export { ContainerLauncher, type ContainerSpec } from './docker/container-launcher.js';
export {
  DockerBridgeCluster,
  type DockerClusterOptions,
  startDockerCluster,
} from './docker/docker-cluster.js';
export { buildLocalEtcdImage, DEFAULT_ETCD_IMAGE } from './docker/image.js';
export { sweepDockerLeftovers } from './docker/sweep.js';
export {
  ClusterStartError,
  ClusterTimeoutError,
  EtcdNotFoundError,
  MemberStateError,
  NetnsUnavailableError,
  TestcontainersLoadError,
  TestcontainersMissingError,
  TestkitError,
  UnsupportedEtcdVersionError,
  UnsupportedFaultError,
} from './errors.js';
export { raftTimings } from './etcd-args.js';
export {
  assertSupportedVersion,
  type EtcdBinary,
  parseEtcdVersion,
  resolveEtcdBinary,
} from './etcd-binary.js';
export { EtcdCluster, type EtcdClusterSpec } from './etcd-cluster.js';
export { readEtcdMetrics } from './etcd-metrics.js';
export {
  type FaultKind,
  type FaultParams,
  injectFault,
  KERNEL_FAULTS,
  NETWORK_FAULTS,
  PROCESS_FAULTS,
  undoFault,
} from './faults/catalog.js';
export { seededRandom } from './faults/random.js';
export {
  type FaultLogEntry,
  type FaultScheduleOptions,
  type FaultStep,
  formatFaultLog,
  runFaultSchedule,
} from './faults/schedule.js';
export type { FaultScheduleReport } from './faults/schedule-report.js';
export { resolveTarget, type Target } from './faults/targets.js';
export { History, now, type Operation } from './history.js';
export type { ProbeTLS } from './internal/http.js';
export type { EtcdLauncher, NetworkAttachment } from './launchers/launcher.js';
export {
  checkKvLinearizability,
  type KvCheckOptions,
  type KvCheckResult,
  type KvCounterexample,
} from './linearizability/check-kv.js';
export { classifyKvError, isConnectionRefused, type KvErrorVerdict } from './linearizability/classify.js';
export { formatKvInput, formatKvOperations, formatKvOutput } from './linearizability/format.js';
export {
  type KvCompare,
  KvHistory,
  KvRecorder,
  type RecordableKeys,
  type RecordableNode,
  type RecordableReply,
} from './linearizability/kv-history.js';
export {
  isPending,
  type KvInput,
  type KvObserved,
  type KvOperation,
  type KvOutput,
} from './linearizability/kv-ops.js';
export type { KvHistoryStats } from './linearizability/partition.js';
export { type FailoverTimes, measureFailover, median } from './measure.js';
export { EtcdMember, type EtcdMemberSpec } from './member.js';
export { KernelFaultNetwork, kernelHasNetem } from './netns/kernel-faults.js';
export type { NetemOptions } from './netns/link-faults.js';
export { NetnsCluster, type NetnsClusterOptions, startNetnsCluster } from './netns/netns-cluster.js';
export {
  type NetnsClient,
  type NetnsEndpoint,
  NetnsNetwork,
  type NetnsNode,
  sweepNetnsLeftovers,
} from './netns/network.js';
export { freePorts } from './ports.js';
export { type ProcessCluster, startProcessCluster } from './process-cluster.js';
export { FaultRecorder } from './report/fault-recorder.js';
export {
  faultsFromLog,
  type HistoryReportInput,
  type ReportFault,
  type ReportHold,
} from './report/input.js';
export { renderHistoryReport, writeHistoryReport } from './report/render.js';
export { reportViolations } from './report/violations.js';
export { tcpConnectionsTo } from './sockets.js';
export { type StartAnyClusterOptions, startCluster } from './start-cluster.js';
export { TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export { makeTestCertificates, type TestCertificates } from './tls.js';
