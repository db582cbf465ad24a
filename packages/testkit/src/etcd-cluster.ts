import type { Cluster, Member, MemberStatus } from './cluster.js';
import { ClusterStartError, ClusterTimeoutError, MemberStateError } from './errors.js';
import { httpRequest, putKey, sleep } from './internal/http.js';
import { probeLeader, waitForLeader } from './internal/leader.js';
import type { EtcdMember } from './member.js';

/** Clusters not yet closed: disposed synchronously if the process exits without closing them. */
const liveClusters = new Set<EtcdCluster>();
process.once('exit', () => {
  for (const cluster of liveClusters) cluster.closeSync();
});

/** What a backend hands to {@link EtcdCluster}. */
export interface EtcdClusterSpec {
  /** `process` or `docker`. */
  readonly backend: string;
  readonly members: readonly EtcdMember[];
  readonly token: string;
  readonly version: string;
  /** Frees what the backend made besides the members' launchers (proxies, dirs, networks, ports). */
  readonly release: () => Promise<void>;
  /** Synchronous last resort of {@link release}, for `process.on('exit')`. */
  readonly releaseSync: () => void;
}

/**
 * A running cluster, on any backend: the members' launchers say how etcd runs; everything else (readiness,
 * leader probes, faults, replacement, status) is here once.
 */
export class EtcdCluster implements Cluster {
  readonly backend: string;
  readonly members: readonly EtcdMember[];
  readonly clientURLs: readonly string[];
  readonly token: string;
  /** The etcd version the members run. */
  version: string;
  readonly #spec: EtcdClusterSpec;
  #closed = false;

  constructor(spec: EtcdClusterSpec) {
    this.#spec = spec;
    this.backend = spec.backend;
    this.members = spec.members;
    this.clientURLs = spec.members.map((member) => member.clientURL);
    this.token = spec.token;
    this.version = spec.version;
    for (const member of spec.members) member.peers = spec.members.filter((other) => other !== member);
    liveClusters.add(this);
  }

  /** `name=peerURL,...` of every member. */
  get initialCluster(): string {
    return this.members.map((member) => `${member.name}=${member.peerURL}`).join(',');
  }

  /** Starts every member at once (members started one by one never see a quorum). */
  async start(): Promise<void> {
    const initialCluster = this.initialCluster;
    // allSettled: a failed member must not leave the others starting after the cluster was closed
    const results = await Promise.allSettled(
      this.members.map((member) => member.start(initialCluster, 'new')),
    );
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Waits until every member is healthy, reads the member ids, then waits until a leader is agreed on and a v2
   * write succeeds. On failure the error carries each member's log tail.
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const fail = async (why: string): Promise<never> => {
      const logs = await Promise.all(
        this.members.map(async (m) => `--- ${m.name} (${m.state})\n${await m.logTail()}`),
      );
      throw new ClusterStartError(`etcd cluster did not start: ${why}\n${logs.join('\n')}`);
    };
    for (;;) {
      if (this.members.some((member) => member.state === 'exited')) await fail('a member exited');
      const health = await Promise.all(this.members.map((member) => member.healthy()));
      if (health.every(Boolean)) break;
      if (performance.now() > deadline) await fail(`not healthy within ${timeoutMs} ms`);
      await sleep(10);
    }
    const list = await this.#memberList(this.members[0]!);
    for (const member of this.members) {
      const id = list?.find((entry) => entry.name === member.name)?.id;
      if (!id) await fail(`member ${member.name} missing from /v2/members`);
      member.id = id!;
    }
    await this.waitForLeader({ timeoutMs: Math.max(1000, deadline - performance.now()) });
    for (;;) {
      const first = this.members[0]!;
      const status = await putKey(
        first.directClientURL,
        '/_etcdkit/ready',
        this.token,
        2000,
        first.probeTLS,
      ).catch(() => 0);
      if (status === 200 || status === 201) return;
      if (performance.now() > deadline) await fail(`v2 write answered ${status}`);
      await sleep(20);
    }
  }

  leader(): Promise<Member | undefined> {
    return probeLeader(this.members);
  }

  waitForLeader(options?: { timeoutMs?: number; exclude?: readonly Member[] }): Promise<Member> {
    return waitForLeader(this.members, options);
  }

  async status(): Promise<MemberStatus[]> {
    return Promise.all(this.members.map((member) => memberStatus(member)));
  }

  async healAll(): Promise<void> {
    for (const member of this.members) await member.heal();
  }

  async restoreAll(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.healAll();
    for (const member of this.members) {
      if (member.state === 'paused') await member.resume();
      if (member.state === 'exited') await member.restart({ waitHealthy: false });
    }
    for (const member of this.members) await member.waitHealthy(options);
  }

  async replace(target: Member, options: { timeoutMs?: number } = {}): Promise<void> {
    const member = this.#own(target);
    const deadline = performance.now() + (options.timeoutMs ?? 20_000);
    await member.kill();
    await member.launcher.wipe();
    const helpers = (): EtcdMember[] => this.members.filter((m) => m !== member && m.state === 'running');
    // etcd refuses reconfiguration while it thinks too few members are active (strict reconfig check):
    // retry until it agrees, or the deadline.
    await this.#retryMembers(
      deadline,
      `remove ${member.name}`,
      async (helper) => {
        const reply = await this.#members(helper, 'DELETE', `/${member.id}`);
        return reply.status === 204 || reply.status === 404 || reply.status === 410;
      },
      helpers,
    );
    let newId = '';
    await this.#retryMembers(
      deadline,
      `add ${member.name}`,
      async (helper) => {
        const reply = await this.#members(helper, 'POST', '', JSON.stringify({ peerURLs: [member.peerURL] }));
        if (reply.status === 201) newId = (JSON.parse(reply.body) as { id: string }).id;
        else if (reply.status === 409)
          newId =
            (await this.#memberList(helper))?.find((m) => m.peerURLs.includes(member.peerURL))?.id ?? '';
        return newId !== '';
      },
      helpers,
    );
    member.id = newId;
    await member.start(this.initialCluster, 'existing');
    await member.waitHealthy({ timeoutMs: Math.max(1000, deadline - performance.now()) });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    liveClusters.delete(this);
    const results = await Promise.allSettled(this.members.map((member) => member.launcher.dispose()));
    await this.#spec.release();
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Synchronous last-resort cleanup, for `process.on('exit')`. */
  closeSync(): void {
    for (const member of this.members) member.launcher.disposeSync();
    this.#spec.releaseSync();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #own(target: Member): EtcdMember {
    const member = this.members.find((m) => m === target);
    if (!member) throw new MemberStateError(`member ${target.name} is not a member of this cluster`);
    return member;
  }

  #members(helper: EtcdMember, method: string, path: string, body?: string) {
    return httpRequest(`${helper.directClientURL}/v2/members${path}`, {
      method,
      ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
      timeoutMs: 2000,
      tls: helper.probeTLS,
    });
  }

  async #memberList(member: EtcdMember) {
    return (
      await member.getJson<{ members: { id: string; name: string; peerURLs: string[] }[] }>(
        '/v2/members',
        2000,
      )
    )?.members;
  }

  async #retryMembers(
    deadline: number,
    what: string,
    attempt: (helper: EtcdMember) => Promise<boolean>,
    helpers: () => EtcdMember[],
  ): Promise<void> {
    for (;;) {
      for (const helper of helpers()) {
        if (await attempt(helper).catch(() => false)) return;
      }
      if (performance.now() > deadline)
        throw new ClusterTimeoutError(`could not ${what} through /v2/members in time`);
      await sleep(100);
    }
  }
}

/** One member's view of raft: role, leader, term and index (`undefined` fields when it does not answer). */
async function memberStatus(member: EtcdMember): Promise<MemberStatus> {
  const base = { name: member.name, id: member.id, state: member.state, isolated: member.isolated };
  if (member.state !== 'running') return base;
  const [self, keys] = await Promise.all([
    member.getJson<{ state?: string; leaderInfo?: { leader?: string } }>('/v2/stats/self', 500),
    httpRequest(`${member.directClientURL}/v2/keys/`, { timeoutMs: 500, tls: member.probeTLS }).catch(
      () => undefined,
    ),
  ]);
  const header = (name: string): number | undefined => {
    const value = keys?.headers[name];
    return typeof value === 'string' ? Number(value) : undefined;
  };
  const leaderId = self?.leaderInfo?.leader;
  return {
    ...base,
    ...(self?.state ? { role: self.state === 'StateLeader' ? 'leader' : 'follower' } : {}),
    ...(leaderId && leaderId !== '0' ? { leaderId } : {}),
    ...(header('x-raft-term') !== undefined ? { term: header('x-raft-term')! } : {}),
    ...(header('x-raft-index') !== undefined ? { raftIndex: header('x-raft-index')! } : {}),
    ...(header('x-etcd-index') !== undefined ? { etcdIndex: header('x-etcd-index')! } : {}),
  } as MemberStatus;
}
