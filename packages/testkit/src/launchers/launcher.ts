/**
 * How a member's etcd runs: a child process or a container. A {@link EtcdMember} drives one launcher through
 * every fault, so the fault logic is the same on every backend.
 */
export interface EtcdLauncher {
  /** What runs the member, for messages: `process`, `container`. */
  readonly kind: string;
  /** Host pid of the running etcd, if known. */
  readonly pid: number | undefined;
  /** True from {@link start} until etcd has exited. */
  readonly running: boolean;
  /** Resolves when the current run of etcd has exited (at once when none runs). */
  readonly exited: Promise<void>;
  /** Starts etcd with `args` (flags only) on the member's existing data. */
  start(args: readonly string[]): Promise<void>;
  /** Sends SIGKILL or SIGTERM to etcd. */
  signal(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Freezes etcd with its sockets open (SIGSTOP, or the cgroup freezer); resolves once it is frozen. */
  pause(): Promise<void>;
  /** Ends {@link pause}. */
  resume(): Promise<void>;
  /** Removes the member's data; etcd must not be running. */
  wipe(): Promise<void>;
  /** The first and last lines etcd logged, for error messages. */
  logTail(): Promise<string>;
  /** Kills etcd and removes everything the launcher made (data, container). Idempotent. */
  dispose(): Promise<void>;
  /** Synchronous last-resort {@link dispose}, for `process.on('exit')`. */
  disposeSync(): void;
}

/** Cuts a member off the network by the runtime's own means (Docker: disconnect from the cluster network). */
export interface NetworkAttachment {
  disconnect(): Promise<void>;
  connect(): Promise<void>;
}
