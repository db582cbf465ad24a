import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import type { Member } from '../cluster.js';
import { NetnsUnavailableError, UnsupportedFaultError } from '../errors.js';
import { processAlive } from '../internal/process-alive.js';
import {
  forgetDir,
  forgetLink,
  forgetNetns,
  forgetPid,
  reapDir,
  reapLink,
  reapNetns,
  reapPid,
} from '../internal/reaper.js';
import { type CommandError, inNamespace, ip, ipSync, run } from './commands.js';
import { releaseSubnet, reserveSubnet, type Subnet } from './subnet.js';

/** A network namespace of a run, attached to the run's bridge: a member's, or a client's. */
export interface NetnsNode {
  /** `m0`, `m1`, ... for members; the name given to {@link NetnsNetwork.client} for clients. */
  readonly name: string;
  /** The namespace's name, for `ip netns exec <namespace>`. */
  readonly namespace: string;
  /** Its IPv4 address on the run's bridge. */
  readonly address: string;
}

/** What the partition and loss faults take: members of the run's cluster, or its client namespaces. */
export type NetnsEndpoint = Member | NetnsNode;

/** Options of {@link NetnsNetwork.netem}: what the kernel's netem qdisc does to a node's outgoing packets. */
export interface NetemOptions {
  /** Added latency, ms. */
  readonly delayMs?: number;
  /** Random extra latency, ms (needs `delayMs`). */
  readonly jitterMs?: number;
  /** Fraction (0..1) of packets sent twice. */
  readonly duplicate?: number;
  /** Fraction (0..1) of packets sent at once, ahead of the delayed ones (needs `delayMs`). */
  readonly reorder?: number;
}

/** A namespace on the run's bridge for test processes: whatever runs in it is a node the faults can cut. */
export interface NetnsClient extends NetnsNode, AsyncDisposable {
  /** `['ip', 'netns', 'exec', <namespace>, file, ...args]`: the argv that runs `file` in this namespace. */
  argv(file: string, args?: readonly string[]): string[];
  /**
   * Spawns `file args` in this namespace (e.g. `process.execPath` and a script: a Node client). The reaper
   * kills it if the test process dies; {@link close} kills it too.
   */
  spawn(file: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Kills what {@link spawn} started and deletes the namespace (and its rules). Idempotent. */
  close(): Promise<void>;
}

interface NodeState extends NetnsNode {
  /** Its veth's name in the hub namespace. */
  readonly hubLink: string;
  /** The last iptables ruleset applied, to skip unchanged ones. */
  applied: string;
  /** The last qdisc applied (`''`: none). */
  qdisc: string;
}

/** Every run's namespaces start with this, then the owner's pid: `etcdkit-<pid>-<n>-<node>`. */
export const NETNS_PREFIX = 'etcdkit-';
/** Host interfaces of runs start with this, then the owner's pid in base 36, `x`, and the run counter. */
const HOST_LINK_PREFIX = 'etk';
/** Address of the first member (`.10`) and the first client (`.100`) in the run's /24. */
const FIRST_MEMBER = 10;
const FIRST_CLIENT = 100;
const MAX_CLIENTS = 150;

let runs = 0;

/** Whether the running kernel has the netem qdisc (`CONFIG_NET_SCH_NETEM`), once probed. */
let netemProbe: Promise<boolean> | undefined;

const edge = (from: string, to: string): string => `${from}>${to}`;
const percent = (fraction: number): string => `${Math.round(fraction * 1e6) / 1e4}%`;

function checkFraction(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be within 0..1, got ${value}`);
}

/**
 * The network of one netns run: a hub namespace holding a bridge, one namespace per member and per client
 * attached to it by a veth pair, and a veth from the host onto the bridge (the host's address ends in `.1`), all
 * in a /24 of 10.200-249.x reserved for the run. Faults are what the kernel does: iptables rules in the
 * receiving (or sending) node's own namespace, and qdiscs on a node's interface. Nothing is added to the host's
 * own iptables or qdiscs: the bridge lives in the hub namespace, so the host's FORWARD chain never sees the
 * run's traffic. The host itself (testkit's probes, test code) is the control node: faults never cut it.
 *
 * Names are unique per run (`etcdkit-<pid>-<n>-<node>`, host link `etk<pid36>x<n>`), so parallel runs do not
 * collide; the reaper deletes them if the test process dies, and {@link sweepNetnsLeftovers} deletes those of
 * dead processes.
 */
export class NetnsNetwork {
  /** `<pid>-<n>`: unique per run on the machine. */
  readonly id: string;
  /** The run's /24, as its first three octets (`10.213.7`). */
  readonly subnet: string;
  /** The host's address on the run's bridge: the source of testkit's probes and of the test's own requests. */
  readonly hostAddress: string;
  readonly #subnet: Subnet;
  readonly #hub: string;
  readonly #hostLink: string;
  readonly #nodes = new Map<string, NodeState>();
  readonly #members = new Map<Member, NodeState>();
  readonly #clients = new Set<NetnsClient>();
  /** Directed edges whose packets are dropped (`from>to`). */
  readonly #blocked = new Set<string>();
  /** Directed edges losing a fraction of their packets. */
  readonly #linkLoss = new Map<string, number>();
  /** Nodes losing a fraction of what they send and receive (the host's traffic aside). */
  readonly #nodeLoss = new Map<string, number>();
  readonly #rate = new Map<string, number>();
  readonly #netem = new Map<string, NetemOptions>();
  /** Serializes fault changes: each applies the state as a whole. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(id: string, subnet: Subnet, hostLink: string) {
    this.id = id;
    this.#subnet = subnet;
    this.subnet = subnet.prefix;
    this.hostAddress = `${subnet.prefix}.1`;
    this.#hub = `${NETNS_PREFIX}${id}-hub`;
    this.#hostLink = hostLink;
  }

  /**
   * Makes the run's hub namespace, bridge and host link.
   *
   * @throws {NetnsUnavailableError} without root, without iproute2 or iptables, or when `ip netns add` fails.
   */
  static async create(): Promise<NetnsNetwork> {
    await checkNetnsSupport();
    sweepNetnsLeftovers();
    const n = ++runs;
    const id = `${process.pid}-${n}`;
    const subnet = reserveSubnet();
    reapDir(subnet.file);
    const network = new NetnsNetwork(id, subnet, `${HOST_LINK_PREFIX}${process.pid.toString(36)}x${n}`);
    try {
      await network.#makeHub();
    } catch (error) {
      await network.close();
      throw new NetnsUnavailableError(`could not make the run's network: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return network;
  }

  /** Every namespace of the run (hub, members, clients). */
  get namespaces(): string[] {
    return [this.#hub, ...[...this.#nodes.values()].map((node) => node.namespace)];
  }

  /** The host interface of the run (its end of the veth onto the bridge). */
  get hostLink(): string {
    return this.#hostLink;
  }

  /** The node of `endpoint` (a member or a client of this run). */
  node(endpoint: NetnsEndpoint): NetnsNode {
    return this.#node(endpoint);
  }

  async #makeHub(): Promise<void> {
    const hub = this.#hub;
    reapNetns(hub);
    await ip('netns', 'add', hub);
    await ip('-n', hub, 'link', 'set', 'lo', 'up');
    await ip('-n', hub, 'link', 'add', 'name', 'br0', 'type', 'bridge');
    await ip('-n', hub, 'link', 'set', 'br0', 'up');
    const host = this.#hostLink;
    reapLink(host);
    await ip('link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', `${host}p`);
    await ip('link', 'set', `${host}p`, 'netns', hub);
    await ip('-n', hub, 'link', 'set', `${host}p`, 'name', 'host', 'master', 'br0', 'up');
    await ip('addr', 'add', `${this.hostAddress}/24`, 'dev', host);
    await ip('link', 'set', host, 'up');
  }

  /** Makes the namespace of member `index` (`<subnet>.1<index>`), named `name`. */
  async addMember(name: string, index: number): Promise<NetnsNode> {
    return this.#addNode(name, `${this.subnet}.${FIRST_MEMBER + index}`);
  }

  /** Binds a member to its node, so that faults can name it. */
  attach(member: Member, node: NetnsNode): void {
    this.#members.set(member, this.#nodes.get(node.name)!);
  }

  async #addNode(name: string, address: string): Promise<NodeState> {
    if (this.#closed) throw new NetnsUnavailableError(`the network of run ${this.id} is closed`);
    if (this.#nodes.has(name)) throw new TypeError(`a node named ${JSON.stringify(name)} exists already`);
    const node: NodeState = {
      name,
      namespace: `${NETNS_PREFIX}${this.id}-${name}`,
      address,
      hubLink: `v-${name}`,
      applied: '',
      qdisc: '',
    };
    this.#nodes.set(name, node);
    const ns = node.namespace;
    reapNetns(ns);
    await ip('netns', 'add', ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'link', 'add', 'name', 'eth0', 'type', 'veth', 'peer', 'name', node.hubLink);
    await ip('-n', ns, 'link', 'set', node.hubLink, 'netns', this.#hub);
    await ip('-n', this.#hub, 'link', 'set', node.hubLink, 'master', 'br0', 'up');
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    return node;
  }

  /**
   * A namespace for test processes on the run's bridge (`<subnet>.100` and up), e.g. a client that must be
   * partitioned from the leader: `network.partition([[client, leader], others])`. `name`: lowercase letters,
   * digits and `-`, at most 12 characters, not `m<digits>`.
   */
  async client(name: string): Promise<NetnsClient> {
    if (!/^[a-z][a-z0-9-]{0,11}$/.test(name) || /^m\d+$/.test(name) || name === 'hub')
      throw new TypeError(`bad client name ${JSON.stringify(name)}: [a-z][a-z0-9-]{0,11}, not m<n> or hub`);
    const taken = new Set([...this.#nodes.values()].map((node) => node.address));
    let address = '';
    for (let i = FIRST_CLIENT; i < FIRST_CLIENT + MAX_CLIENTS && !address; i++)
      if (!taken.has(`${this.subnet}.${i}`)) address = `${this.subnet}.${i}`;
    if (!address) throw new RangeError(`at most ${MAX_CLIENTS} client namespaces a run`);
    const node = await this.#addNode(name, address);
    const children = new Set<ChildProcess>();
    const argv = (file: string, args: readonly string[] = []): string[] => [
      'ip',
      'netns',
      'exec',
      node.namespace,
      file,
      ...args,
    ];
    const client: NetnsClient = {
      name,
      namespace: node.namespace,
      address,
      argv,
      spawn: (file, args = [], options = {}) => {
        const [command, ...rest] = argv(file, args);
        const child = spawn(command!, rest, options);
        const pid = child.pid;
        if (pid !== undefined) {
          reapPid(pid);
          children.add(child);
          child.once('exit', () => {
            forgetPid(pid);
            children.delete(child);
          });
        }
        return child;
      },
      close: async () => {
        if (!this.#clients.delete(client)) return;
        await Promise.all(
          [...children].map((child) => {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGKILL');
            return child.exitCode === null && child.signalCode === null ? exited : undefined;
          }),
        );
        await this.heal([client]);
        this.#nodes.delete(name);
        await this.#deleteNamespace(node.namespace);
      },
      [Symbol.asyncDispose]: () => client.close(),
    };
    this.#clients.add(client);
    return client;
  }

  /**
   * Splits the nodes into `groups` that cannot reach each other (both directions). Nodes in no group keep
   * reaching every node. Adds to the faults already in place; {@link heal} ends them.
   */
  partition(groups: readonly (readonly NetnsEndpoint[])[]): Promise<void> {
    const sets = groups.map((group) => group.map((e) => this.#node(e).name));
    return this.#change(() => {
      for (const [i, a] of sets.entries())
        for (const [j, b] of sets.entries())
          if (i !== j) for (const from of a) for (const to of b) this.#blocked.add(edge(from, to));
    });
  }

  /**
   * A one-way partition: packets from `from` to `to` are dropped, packets from `to` to `from` still arrive (as
   * Jepsen does it: a drop rule in the receiver's INPUT chain). TCP needs both directions, so connections
   * between them stall either way, but datagrams, SYNs and the first bytes of a stream still get through.
   */
  cut(from: readonly NetnsEndpoint[], to: readonly NetnsEndpoint[]): Promise<void> {
    const senders = from.map((e) => this.#node(e).name);
    const receivers = to.map((e) => this.#node(e).name);
    return this.#change(() => {
      for (const s of senders) for (const r of receivers) if (s !== r) this.#blocked.add(edge(s, r));
    });
  }

  /** Cuts `member` from every other member, both ways (clients and the host still reach it). */
  isolate(member: NetnsEndpoint): Promise<void> {
    const node = this.#node(member).name;
    const others = [...this.#members.values()].map((m) => m.name).filter((name) => name !== node);
    return this.#change(() => {
      for (const other of others) {
        this.#blocked.add(edge(node, other));
        this.#blocked.add(edge(other, node));
      }
    });
  }

  /**
   * Jepsen's bridge: the other members are split in two halves that cannot reach each other, and `bridge` reaches
   * both. Default halves: the members before and after `bridge` in member order, rotated so that each half has
   * ⌊(n-1)/2⌋ or ⌈(n-1)/2⌉ members.
   */
  bridge(
    bridge: NetnsEndpoint,
    halves?: readonly [readonly NetnsEndpoint[], readonly NetnsEndpoint[]],
  ): Promise<void> {
    const middle = this.#node(bridge).name;
    let pair: readonly [readonly NetnsEndpoint[], readonly NetnsEndpoint[]];
    if (halves) pair = halves;
    else {
      const others = [...this.#members.keys()].filter((m) => this.#node(m).name !== middle);
      const half = Math.floor(others.length / 2);
      pair = [others.slice(0, half), others.slice(half)];
    }
    if (pair.some((half) => half.some((e) => this.#node(e).name === middle)))
      throw new TypeError('the bridge must be in neither half');
    return this.partition(pair);
  }

  /**
   * Jepsen's majorities ring: members in `order` (default member order) form a ring and each reaches only its
   * nearest neighbours, enough of them that it sees a majority, so that no two members see the same majority.
   * With 3 members every member still sees every other (use 5).
   */
  ring(order?: readonly NetnsEndpoint[]): Promise<void> {
    const names = (order ?? [...this.#members.keys()]).map((e) => this.#node(e).name);
    const n = names.length;
    const reach = Math.ceil(Math.floor(n / 2) / 2);
    return this.#change(() => {
      for (const [i, a] of names.entries())
        for (const [j, b] of names.entries()) {
          const distance = Math.min(Math.abs(i - j), n - Math.abs(i - j));
          if (distance > reach) this.#blocked.add(edge(a, b));
        }
    });
  }

  /**
   * Each node in `targets` loses a `fraction` (0..1) of the packets it receives and of those it sends, the
   * host's aside (iptables `statistic --mode random`).
   */
  loss(targets: readonly NetnsEndpoint[], fraction: number): Promise<void> {
    checkFraction('fraction', fraction);
    const names = targets.map((e) => this.#node(e).name);
    return this.#change(() => {
      for (const name of names)
        if (fraction > 0) this.#nodeLoss.set(name, fraction);
        else this.#nodeLoss.delete(name);
    });
  }

  /** Packets from each of `from` to each of `to` (and back, unless `oneWay`) are lost with probability `fraction`. */
  linkLoss(
    from: readonly NetnsEndpoint[],
    to: readonly NetnsEndpoint[],
    fraction: number,
    options: { oneWay?: boolean } = {},
  ): Promise<void> {
    checkFraction('fraction', fraction);
    const a = from.map((e) => this.#node(e).name);
    const b = to.map((e) => this.#node(e).name);
    return this.#change(() => {
      for (const s of a)
        for (const r of b) {
          if (s === r) continue;
          this.#linkLoss.set(edge(s, r), fraction);
          if (!options.oneWay) this.#linkLoss.set(edge(r, s), fraction);
        }
    });
  }

  /** Limits what each of `targets` sends to `kbitPerSecond` (a tbf qdisc on its interface; every peer and the host). */
  rate(targets: readonly NetnsEndpoint[], kbitPerSecond: number): Promise<void> {
    if (!(kbitPerSecond >= 1)) throw new RangeError(`kbitPerSecond must be >= 1, got ${kbitPerSecond}`);
    const names = targets.map((e) => this.#node(e).name);
    return this.#change(() => {
      for (const name of names) this.#rate.set(name, kbitPerSecond);
    });
  }

  /**
   * Delays, jitters, duplicates or reorders what each of `targets` sends (a netem qdisc on its interface: every
   * packet it sends, to peers and to the host).
   *
   * @throws {UnsupportedFaultError} when the kernel has no sch_netem (`CONFIG_NET_SCH_NETEM`).
   */
  async netem(targets: readonly NetnsEndpoint[], options: NetemOptions): Promise<void> {
    const { delayMs = 0, jitterMs = 0, duplicate = 0, reorder = 0 } = options;
    if (!(delayMs >= 0 && jitterMs >= 0)) throw new RangeError('delayMs and jitterMs must be >= 0');
    checkFraction('duplicate', duplicate);
    checkFraction('reorder', reorder);
    if ((jitterMs > 0 || reorder > 0) && delayMs <= 0)
      throw new RangeError('jitterMs and reorder need a delayMs above 0');
    if (!(await kernelHasNetem()))
      throw new UnsupportedFaultError(
        'delay, jitter, duplication and reordering need the netem qdisc, and this kernel lacks sch_netem ' +
          '(CONFIG_NET_SCH_NETEM is not set: `tc qdisc add ... netem` fails with "Specified qdisc kind is unknown")',
      );
    const names = targets.map((e) => this.#node(e).name);
    return this.#change(() => {
      for (const name of names) this.#netem.set(name, { delayMs, jitterMs, duplicate, reorder });
    });
  }

  /** Ends every fault (with `targets`: every fault that involves one of them). */
  heal(targets?: readonly NetnsEndpoint[]): Promise<void> {
    const names = targets ? new Set(targets.map((e) => this.#node(e).name)) : undefined;
    const involves = (key: string): boolean => {
      if (!names) return true;
      const [from = '', to = ''] = key.split('>');
      return names.has(from) || names.has(to);
    };
    return this.#change(() => {
      for (const key of [...this.#blocked]) if (involves(key)) this.#blocked.delete(key);
      for (const key of [...this.#linkLoss.keys()]) if (involves(key)) this.#linkLoss.delete(key);
      for (const map of [this.#nodeLoss, this.#rate, this.#netem])
        for (const key of [...map.keys()]) if (!names || names.has(key)) map.delete(key);
    });
  }

  /** The iptables rules (as `iptables-save` prints them) in each node's namespace now, for tests and reports. */
  async rules(): Promise<Record<string, string>> {
    const entries = await Promise.all(
      [...this.#nodes.values()].map(
        async (node) => [node.name, await inNamespace(node.namespace, 'iptables-save', [])] as const,
      ),
    );
    return Object.fromEntries(entries);
  }

  /** Changes the fault state, then brings every node's rules and qdisc in line with it. */
  #change(mutate: () => void): Promise<void> {
    const next = this.#queue.then(async () => {
      if (this.#closed) throw new NetnsUnavailableError(`the network of run ${this.id} is closed`);
      mutate();
      await Promise.all([...this.#nodes.values()].map((node) => this.#apply(node)));
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(node: NodeState): Promise<void> {
    const rules = this.#rulesOf(node);
    if (rules !== node.applied) {
      await inNamespace(node.namespace, 'iptables-restore', [], rules);
      node.applied = rules;
    }
    const qdisc = this.#qdiscOf(node);
    if (qdisc !== node.qdisc) {
      if (node.qdisc)
        await inNamespace(node.namespace, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {});
      node.qdisc = '';
      if (qdisc)
        await inNamespace(node.namespace, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', ...qdisc.split(' ')]);
      node.qdisc = qdisc;
    }
  }

  /** The whole filter table of `node`'s namespace, for `iptables-restore`. */
  #rulesOf(node: NodeState): string {
    const tag = `-m comment --comment etcdkit-${this.id}`;
    const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
    const random = (fraction: number): string => `-m statistic --mode random --probability ${fraction}`;
    for (const other of this.#nodes.values()) {
      if (other === node) continue;
      if (this.#blocked.has(edge(other.name, node.name)))
        lines.push(`-A INPUT -s ${other.address}/32 ${tag} -j DROP`);
      const loss = this.#linkLoss.get(edge(other.name, node.name));
      if (loss) lines.push(`-A INPUT -s ${other.address}/32 ${random(loss)} ${tag} -j DROP`);
    }
    const loss = this.#nodeLoss.get(node.name);
    if (loss) {
      lines.push(`-A INPUT ! -s ${this.hostAddress}/32 ${random(loss)} ${tag} -j DROP`);
      lines.push(`-A OUTPUT ! -d ${this.hostAddress}/32 ${random(loss)} ${tag} -j DROP`);
    }
    lines.push('COMMIT', '');
    return lines.join('\n');
  }

  /** The root qdisc of `node`'s interface (`tc qdisc add ... root` arguments), `''` for none. */
  #qdiscOf(node: NodeState): string {
    const rate = this.#rate.get(node.name);
    const netem = this.#netem.get(node.name);
    if (netem) {
      const parts = ['netem'];
      if (netem.delayMs)
        parts.push('delay', `${netem.delayMs}ms`, ...(netem.jitterMs ? [`${netem.jitterMs}ms`] : []));
      if (netem.duplicate) parts.push('duplicate', percent(netem.duplicate));
      if (netem.reorder) parts.push('reorder', percent(netem.reorder));
      if (rate) parts.push('rate', `${rate}kbit`);
      return parts.join(' ');
    }
    if (rate) {
      // a bucket of 20 ms at that rate, at least two full-size frames
      const burst = Math.max(3200, Math.ceil((rate * 1000) / 8 / 50));
      return `tbf rate ${rate}kbit burst ${burst} latency 200ms`;
    }
    return '';
  }

  #node(endpoint: NetnsEndpoint): NodeState {
    const member = this.#members.get(endpoint as Member);
    if (member) return member;
    const node = this.#nodes.get(endpoint.name);
    if (node && node.namespace === (endpoint as NetnsNode).namespace) return node;
    throw new TypeError(`${endpoint.name} is neither a member nor a client of netns run ${this.id}`);
  }

  async #deleteNamespace(ns: string): Promise<void> {
    await ip('netns', 'delete', ns).catch((error: unknown) => {
      if (!/No such file|not found|Invalid/.test((error as CommandError).stderr ?? '')) throw error;
    });
    forgetNetns(ns);
  }

  /**
   * Deletes every namespace of the run (their rules and qdiscs with them), the host link, and gives the subnet
   * back. Processes must be gone first (members are killed by their launchers; clients' children here).
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    await Promise.all([...this.#clients].map((client) => client.close()));
    this.#closed = true;
    const results = await Promise.allSettled(
      [...this.#nodes.values()].map((node) => this.#deleteNamespace(node.namespace)),
    );
    await this.#deleteNamespace(this.#hub);
    await ip('link', 'delete', this.#hostLink).catch(() => {});
    forgetLink(this.#hostLink);
    releaseSubnet(this.#subnet);
    forgetDir(this.#subnet.file);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Synchronous last resort of {@link close}, for `process.on('exit')`. */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ns of this.namespaces) ipSync('netns', 'delete', ns);
    ipSync('link', 'delete', this.#hostLink);
    releaseSubnet(this.#subnet);
  }
}

/**
 * Whether the kernel has the netem qdisc: probed once per process by adding one to the loopback of a scratch
 * namespace.
 */
export function kernelHasNetem(): Promise<boolean> {
  netemProbe ??= (async () => {
    const ns = `${NETNS_PREFIX}${process.pid}-netem-probe`;
    reapNetns(ns);
    try {
      await ip('netns', 'add', ns);
      await inNamespace(ns, 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
      return true;
    } catch {
      return false;
    } finally {
      await ip('netns', 'delete', ns).catch(() => {});
      forgetNetns(ns);
    }
  })();
  return netemProbe;
}

/** Checks Linux and root on each call, and `ip`, `tc` and `iptables-restore` once per process. */
let support: Promise<void> | undefined;
async function checkNetnsSupport(): Promise<void> {
  if (process.platform !== 'linux')
    throw new NetnsUnavailableError(`the netns backend needs Linux, not ${process.platform}`);
  if (process.getuid?.() !== 0)
    throw new NetnsUnavailableError(
      'the netns backend needs root (CAP_NET_ADMIN to make namespaces, veths and iptables rules); ' +
        "run as root or use backend: 'process'",
    );
  support ??= (async () => {
    for (const [tool, args, pkg] of [
      ['ip', ['-V'], 'iproute2'],
      ['tc', ['-V'], 'iproute2'],
      ['iptables-restore', ['--version'], 'iptables'],
    ] as const) {
      await run(tool, args).catch((error: unknown) => {
        throw new NetnsUnavailableError(
          `the netns backend needs ${tool} (Debian/Ubuntu: apt-get install ${pkg})`,
          {
            cause: error,
          },
        );
      });
    }
  })();
  support.catch(() => {
    support = undefined;
  });
  return support;
}

/**
 * Deletes the namespaces (`etcdkit-<pid>-...`) and host links (`etk<pid36>x...`) of netns runs whose process no
 * longer runs (killed before its reaper could act, e.g. with the whole machine's processes). Runs at each netns
 * start; returns what it deleted.
 */
export function sweepNetnsLeftovers(): string[] {
  const removed: string[] = [];
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of namespaces.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const owner = /^etcdkit-(\d+)-/.exec(name)?.[1];
    if (owner && !processAlive(Number(owner))) {
      ipSync('netns', 'delete', name);
      removed.push(`netns ${name}`);
    }
  }
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const match of links.matchAll(/^\d+: (etk([0-9a-z]+)x\d+)[@:]/gm)) {
    const [, name = '', owner = ''] = match;
    if (!processAlive(Number.parseInt(owner, 36))) {
      ipSync('link', 'delete', name);
      removed.push(`link ${name}`);
    }
  }
  return removed;
}
