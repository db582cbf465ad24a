/**
 * The interface every testkit backend implements, so that a test switches backend by one option.
 */

/** Where a member's process is. */
export type MemberState = 'running' | 'paused' | 'exited';

/** Raft timings. `fast` (heartbeat 50 ms, election 250 ms) suits tests; `default` is etcd's 100/1000 ms. */
export type RaftTimings = 'fast' | 'default' | { readonly heartbeatMs: number; readonly electionMs: number };

/** Options of `startCluster`. */
export interface StartClusterOptions {
  /** Number of members (1, 3, 5, ...). Default 3. */
  readonly size?: number;
  /** Raft timings. Default `fast`. */
  readonly timings?: RaftTimings;
  /** Extra flags for every etcd member, e.g. `['--snapshot-count=1000']`. */
  readonly extraArgs?: readonly string[];
  /** Path of the etcd binary. Default: `ETCD_BIN`, else `etcd` on PATH. */
  readonly etcdBin?: string;
  /** Folder under which the cluster's own data folder is made. Default: the OS temp dir. */
  readonly dataDirRoot?: string;
  /** How long start may take before it fails and cleans up, in ms. Default 30000. */
  readonly startTimeoutMs?: number;
  /** Serve clients over TLS (https client URLs). Peers still talk plain HTTP through their proxies. */
  readonly clientTLS?: ClientTLSFiles;
  /**
   * Put a {@link TcpProxy} in front of each member's client URL too, and advertise it, so that client
   * traffic can be delayed, dropped and reset (`member.delay(ms, { link: 'client' })`). Default false.
   */
  readonly clientProxies?: boolean;
}

/** Which link a network fault acts on: raft traffic between members, or client traffic. */
export type Link = 'peer' | 'client';

/** One member's view of raft, from `/v2/stats/self` and the `X-Raft-*` headers; fields missing when it does not answer. */
export interface MemberStatus {
  readonly name: string;
  readonly id: string;
  readonly state: MemberState;
  readonly isolated: boolean;
  readonly role?: 'leader' | 'follower';
  /** Whom the member follows (hex id). */
  readonly leaderId?: string;
  readonly term?: number;
  readonly raftIndex?: number;
  readonly etcdIndex?: number;
}

/** PEM files for TLS on the client URLs. */
export interface ClientTLSFiles {
  /** The server certificate; it must name 127.0.0.1 (IP SAN). */
  readonly certFile: string;
  /** The server key. */
  readonly keyFile: string;
  /**
   * A CA whose certificates clients must present (`--client-cert-auth`). testkit's own probes then present
   * the server certificate, which therefore also needs the clientAuth usage.
   */
  readonly trustedCAFile?: string;
}

/** One etcd member of a test cluster, with the faults it can suffer. */
export interface Member {
  /** Member name (`m0`, `m1`, ...). */
  readonly name: string;
  /** Member id as etcd prints it (hex), e.g. `8e9e05c52164694d`. */
  readonly id: string;
  /** The URL clients use (`http://127.0.0.1:<port>`). */
  readonly clientURL: string;
  /** The advertised peer URL (a {@link TcpProxy} in front of the real listener). */
  readonly peerURL: string;
  /** Pid of the running etcd process; `undefined` once it has exited. */
  readonly pid: number | undefined;
  /** Where the process is. */
  readonly state: MemberState;
  /** True between {@link isolate} and {@link heal}. */
  readonly isolated: boolean;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop), and wait until the process is gone. */
  stop(): Promise<void>;
  /** SIGSTOP: the process freezes with its sockets open, as a long GC pause or a hung VM would. */
  pause(): Promise<void>;
  /** SIGCONT after {@link pause}. */
  resume(): Promise<void>;
  /**
   * Stops the member if it runs and starts it again on the same data dir. Waits until it is healthy unless
   * `waitHealthy` is false (needed when restarting a majority: no member is healthy until a quorum is back).
   */
  restart(options?: { waitHealthy?: boolean }): Promise<void>;
  /** Cuts the member's raft traffic to and from every other member (client traffic still flows). */
  isolate(): Promise<void>;
  /** Ends {@link isolate} and every proxy fault ({@link delay}, {@link dropConnections}). */
  heal(): Promise<void>;
  /**
   * Delays traffic through the member's proxy on `link` (default `peer`, both directions) by `ms` plus a
   * random `0..jitterMs`, until {@link heal}.
   * @throws {UnsupportedFaultError} when the member has no proxy on that link.
   */
  delay(ms: number, options?: { jitterMs?: number; link?: Link }): Promise<void>;
  /** Resets a `fraction` (0..1) of the connections on `link` (default `peer`), open and new, until {@link heal}. */
  dropConnections(fraction: number, options?: { link?: Link }): Promise<void>;
  /** Resets every open connection on `link` (default `client`) once. */
  resetConnections(options?: { link?: Link }): Promise<void>;
  /** Resolves when the member answers `/health` with `true` (it has a leader). */
  waitHealthy(options?: { timeoutMs?: number }): Promise<void>;
}

/** A running test cluster. */
export interface Cluster extends AsyncDisposable {
  /** Where the members run: `process` or `docker`. */
  readonly backend: string;
  /** Client URLs of all members, in member order. */
  readonly clientURLs: readonly string[];
  /** The members, in order. */
  readonly members: readonly Member[];
  /** The `--initial-cluster-token` (unique per cluster). */
  readonly token: string;
  /** The etcd version the cluster runs. */
  readonly version: string;
  /** The member a majority of the cluster follows right now, if any (one probe round). */
  leader(): Promise<Member | undefined>;
  /** Polls until a majority agrees on a leader (not in `exclude`), and returns it. */
  waitForLeader(options?: { timeoutMs?: number; exclude?: readonly Member[] }): Promise<Member>;
  /** Each member's role, leader, term and raft index, as it answers now. */
  status(): Promise<MemberStatus[]>;
  /** Heals every network fault of every member. */
  healAll(): Promise<void>;
  /**
   * Destroys a member and replaces it: kills it, wipes its data, removes it and adds it again through
   * `/v2/members`, and starts it fresh with `--initial-cluster-state existing` (it gets a new id).
   * Resolves once it is healthy.
   */
  replace(member: Member, options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Undoes every fault: heals the network, resumes paused members, restarts exited ones (on their data), and
   * waits until every member is healthy. For test clean-up between fault scenarios on one cluster.
   */
  restoreAll(options?: { timeoutMs?: number }): Promise<void>;
  /** Kills every process the cluster started, closes its proxies and removes its data. Idempotent. */
  close(): Promise<void>;
}
