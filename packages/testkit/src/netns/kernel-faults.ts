import { UnsupportedFaultError } from '../errors.js';
import { forgetNetns, reapNetns } from '../internal/reaper.js';
import { TcpProxy } from '../tcp-proxy.js';
import { inNamespace, ip, run } from './commands.js';
import {
  checkFraction,
  checkNetem,
  checkRate,
  type LinkFaults,
  type NetemOptions,
  NO_RULES,
  natRestore,
  type RelayEndpoint,
  type RelaySpec,
} from './link-faults.js';

/** Every netns run's namespaces start with this, then the owner's pid: `etcdkit-<pid>-<n>-<node>`. */
export const NETNS_PREFIX = 'etcdkit-';

/** Whether the running kernel has the netem qdisc (`CONFIG_NET_SCH_NETEM`), once probed. */
let netemProbe: Promise<boolean> | undefined;

/**
 * Whether the kernel has the netem qdisc: probed once per process by adding one to the loopback of a scratch
 * namespace (false without root).
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

/** An {@link AppliedFaults.qdisc} that matches no wanted state: what is there is not known. */
const PARTLY_APPLIED = '(partly applied)';

/** What was last applied to a node's namespace, and through which argv prefix (a new one: a new namespace). */
export interface AppliedFaults {
  via: string;
  rules: string;
  qdisc: string;
  /** The rules of testkit's nat chain; `undefined` while the namespace has no such chain (nor the jump to it). */
  nat?: string | undefined;
}

/**
 * `iptables-restore` waits up to 5 s for the xtables lock instead of failing at once: with iptables-legacy, the
 * lock is the host's, and dockerd takes it as containers start (when faults are applied again).
 */
const WAIT_FOR_LOCK = ['-w', '5'];

/**
 * Brings a node's network namespace in line with `rules` (a whole filter table, for `iptables-restore`), `qdisc`
 * (the root qdisc of its `eth0`, then any classes and filters beneath it: see `LinkFaults.qdiscOf`; `''` for
 * none) and `nat` (the rules of testkit's chain in its nat table, with the run's tag, made with `iptables-restore --noflush`: the namespace's other nat rules stay), running each
 * command through `prefix`: the argv that enters the namespace, `ip netns exec <ns>` or `nsenter
 * --net=/proc/<pid>/ns/net`. Skips what `applied` says is there already, and updates it.
 */
export async function applyFaults(
  prefix: readonly string[],
  rules: string,
  qdisc: string,
  applied: AppliedFaults,
  nat?: { readonly tag: string; readonly rules: string },
): Promise<void> {
  const via = prefix.join(' ');
  // a new namespace: an empty filter table, no root qdisc, no chain of ours in the nat table
  if (applied.via !== via) Object.assign(applied, { via, rules: NO_RULES, qdisc: '', nat: undefined });
  const [file = '', ...head] = prefix;
  const exec = (command: string, args: readonly string[], input?: string): Promise<string> =>
    run(file, [...head, command, ...args], input);
  if (nat && (nat.rules || applied.nat !== undefined) && nat.rules !== applied.nat) {
    await exec(
      'iptables-restore',
      [...WAIT_FOR_LOCK, '--noflush'],
      natRestore(nat.tag, nat.rules, applied.nat === undefined),
    );
    applied.nat = nat.rules;
  }
  if (rules !== applied.rules) {
    await exec('iptables-restore', WAIT_FOR_LOCK, rules);
    applied.rules = rules;
  }
  if (qdisc !== applied.qdisc) {
    if (applied.qdisc) await exec('tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {});
    // unknown until every command went through: a failure halfway leaves a root that the next apply deletes
    applied.qdisc = qdisc ? PARTLY_APPLIED : '';
    // the root qdisc, then its classes and filters (link rates), each a whole tc command
    const [root = '', ...more] = qdisc.split('\n');
    if (root) await exec('tc', ['qdisc', 'add', 'dev', 'eth0', 'root', ...root.split(' ')]);
    for (const line of more) await exec('tc', line.split(' '));
    applied.qdisc = qdisc;
  }
}

/** What a {@link KernelFaultNetwork} needs from the backend that made the nodes. */
export interface KernelFaultDriver<E> {
  /** The run's fault state; the backend keeps its nodes' names and addresses up to date in it. */
  readonly faults: LinkFaults;
  /** The host's address on the run's network (never cut): where relays listen. */
  readonly relayHost: string;
  /** The node name of `endpoint`. @throws {TypeError} when it is no node of the run. */
  nodeOf(endpoint: E): string;
  /** The members, in member order. */
  members(): readonly E[];
  /** The argv prefix that runs a command in node `name`'s network namespace; `undefined` while it has none. */
  prefixOf(name: string): readonly string[] | undefined;
  /** Brings the node addresses in `faults` (and what {@link prefixOf} knows) up to date, before each apply. */
  sync?(): Promise<void>;
  /**
   * @param healing - true for {@link KernelFaultNetwork.heal}: a backend where no fault could be made has none
   *   to end, and may let it pass.
   * @throws when faults cannot be changed now (the run is closed, no root).
   */
  checkUsable(healing: boolean): Promise<void>;
}

const reappliers = new WeakMap<object, () => Promise<void>>();
const relayStoppers = new WeakMap<object, () => Promise<void>>();

/**
 * Stops `network`'s relays (after the changes pending), for its backend's close: their connections close, and
 * they are no more. The nat rules that sent connections to them go with the namespaces.
 */
export function stopRelays(network: object): Promise<void> {
  return relayStoppers.get(network)!();
}

/** A running relay of a delayed link, and the spec it was started for. */
interface Relay {
  readonly proxy: TcpProxy;
  readonly target: string;
}

/**
 * Applies `network`'s fault state again, after the changes pending: to a node's new namespace (a restarted
 * container), or to wait for those changes. Only nodes whose namespace changed are touched.
 */
export function reapplyFaults(network: object): Promise<void> {
  return reappliers.get(network)!();
}

/**
 * Network faults in the kernel, as Jepsen injects them: iptables rules in the receiving (or sending) node's own
 * network namespace and a qdisc on its interface, tagged with the run's comment. The host (testkit's probes, the
 * test's own requests) is the control node: faults never cut it. Where the kernel lacks sch_netem, a delay is
 * made by relays ({@link TcpProxy}s) on the host instead, driven by the same fault state as the rules (see
 * {@link KernelFaultNetwork.netem}). Each call adds to the faults in place;
 * {@link KernelFaultNetwork.heal | heal} ends them. The netns backend's {@link NetnsNetwork} and Docker bridge
 * networks' {@link DockerBridgeNetwork} are ones.
 */
export class KernelFaultNetwork<E extends { readonly name: string }> {
  readonly #driver: KernelFaultDriver<E>;
  readonly #applied = new Map<string, AppliedFaults>();
  /** The relays of delayed links, by edge (`from>to`). */
  readonly #relays = new Map<string, Relay>();
  /** Set by {@link stopRelays}: the backend is closing, no relay starts again. */
  #relaysStopped = false;
  /** Serializes fault changes: each applies the state as a whole. */
  #queue: Promise<void> = Promise.resolve();

  /**
   * For the backends' subclasses.
   * @param driver - the backend's nodes.
   * @internal
   */
  protected constructor(driver: KernelFaultDriver<E>) {
    this.#driver = driver;
    reappliers.set(this, () => this.#change());
    relayStoppers.set(this, () => {
      this.#relaysStopped = true;
      const next = this.#queue.then(() => this.#stopRelays([...this.#relays.keys()]));
      this.#queue = next.catch(() => {});
      return next;
    });
  }

  /**
   * Splits the nodes into `groups` that cannot reach each other (both directions). Nodes in no group keep
   * reaching every node.
   */
  partition(groups: readonly (readonly E[])[]): Promise<void> {
    const sets = groups.map((group) => this.#names(group));
    return this.#change((faults) => faults.partition(sets));
  }

  /**
   * A one-way partition: packets from `from` to `to` are dropped, packets from `to` to `from` still arrive (as
   * Jepsen does it: a drop rule in the receiver's INPUT chain). TCP needs both directions, so connections
   * between them stall either way, but datagrams, SYNs and the first bytes of a stream still get through.
   */
  cut(from: readonly E[], to: readonly E[]): Promise<void> {
    const senders = this.#names(from);
    const receivers = this.#names(to);
    return this.#change((faults) => faults.cut(senders, receivers));
  }

  /** Cuts `member` from every other member, both ways (clients and the host still reach it). */
  isolate(member: E): Promise<void> {
    const node = this.#driver.nodeOf(member);
    const others = this.#names(this.#driver.members()).filter((name) => name !== node);
    return this.#change((faults) => faults.partition([[node], others]));
  }

  /**
   * Jepsen's bridge: the other members are split in two halves that cannot reach each other, and `bridge` reaches
   * both. Default halves: the members before and after `bridge` in member order, rotated so that each half has
   * ⌊(n-1)/2⌋ or ⌈(n-1)/2⌉ members.
   */
  bridge(bridge: E, halves?: readonly [readonly E[], readonly E[]]): Promise<void> {
    const middle = this.#driver.nodeOf(bridge);
    let pair: readonly [readonly E[], readonly E[]];
    if (halves) pair = halves;
    else {
      const others = this.#driver.members().filter((m) => this.#driver.nodeOf(m) !== middle);
      const half = Math.floor(others.length / 2);
      pair = [others.slice(0, half), others.slice(half)];
    }
    if (pair.some((half) => half.some((e) => this.#driver.nodeOf(e) === middle)))
      throw new TypeError('the bridge must be in neither half');
    return this.partition(pair);
  }

  /**
   * Jepsen's majorities ring: members in `order` (default member order) form a ring and each reaches only its
   * nearest neighbours, enough of them that it sees a majority, so that no two members see the same majority.
   * With 3 members every member still sees every other (use 5).
   */
  ring(order?: readonly E[]): Promise<void> {
    const names = this.#names(order ?? this.#driver.members());
    return this.#change((faults) => faults.ring(names));
  }

  /**
   * Each node in `targets` loses a `fraction` (0..1) of the packets it receives and of those it sends, the
   * host's aside (iptables `statistic --mode random`).
   */
  loss(targets: readonly E[], fraction: number): Promise<void> {
    checkFraction('fraction', fraction);
    const names = this.#names(targets);
    return this.#change((faults) => faults.loss(names, fraction));
  }

  /** Packets from each of `from` to each of `to` (and back, unless `oneWay`) are lost with probability `fraction`. */
  linkLoss(
    from: readonly E[],
    to: readonly E[],
    fraction: number,
    options: { oneWay?: boolean } = {},
  ): Promise<void> {
    checkFraction('fraction', fraction);
    const a = this.#names(from);
    const b = this.#names(to);
    return this.#change((faults) => faults.linkLoss(a, b, fraction, options.oneWay));
  }

  /**
   * Limits what each of `targets` sends to `kbitPerSecond`, to every peer and the host: a tbf qdisc on its
   * interface, or, when it also has link rates ({@link linkRate}), the htb parent class they share.
   */
  rate(targets: readonly E[], kbitPerSecond: number): Promise<void> {
    checkRate(kbitPerSecond);
    const names = this.#names(targets);
    return this.#change((faults) => faults.rate(names, kbitPerSecond));
  }

  /**
   * Limits what each of `from` sends to each of `to` (and back, unless `oneWay`) to `kbitPerSecond`, and no other
   * traffic of theirs: an htb class per limited peer on the sender's interface, picked by a u32 filter on the
   * peer's address (under the sender's own {@link rate}, if it has one). Members and client namespaces alike;
   * not the links a {@link linkDelay} or a relayed {@link netem} delay sends through relays. `kbitPerSecond` 0 ends
   * it; {@link heal} too.
   */
  linkRate(
    from: readonly E[],
    to: readonly E[],
    kbitPerSecond: number,
    options: { oneWay?: boolean } = {},
  ): Promise<void> {
    if (kbitPerSecond !== 0) checkRate(kbitPerSecond);
    const a = this.#names(from);
    const b = this.#names(to);
    return this.#change((faults) => faults.linkRate(a, b, kbitPerSecond, options.oneWay));
  }

  /**
   * Delays, jitters, duplicates or reorders what each of `targets` sends. Where the kernel has sch_netem: a netem
   * qdisc on its interface, per packet (every packet it sends, to peers and to the host, client replies
   * included). Where it lacks it (`kernelHasNetem()` false), a delay (with jitter) is made by relays on the host
   * instead, as the process backend's proxies make it: every connection between a target and another member
   * (either may open it) is sent, by a DNAT rule in the nat table of the member that opens it, through a
   * {@link TcpProxy} on the host's address of the run's network, which delays each chunk both ways by `delayMs`
   * plus up to `jitterMs`, keeping their order. So there every raft message a target sends or receives is late
   * by the delay (a leader's append to a delayed follower and its answer: twice), per connection, not per packet;
   * clients and the host are not delayed. Connections open when the delay begins are killed (`ss -K`, both ends
   * reset) and etcd redials through the relays within about 100 ms: with fast raft timings this can cost one
   * election. Cuts, partitions and loss still apply to relayed connections: a relay drops everything while its
   * link is cut either way, and the loss of its ends and of the link is applied on its port. {@link heal} removes
   * the rules and stops the relays (their connections close; etcd redials directly). `delayMs` 0 ends the delay.
   *
   * @throws {UnsupportedFaultError} for duplication or reordering when the kernel has no sch_netem
   *   (`CONFIG_NET_SCH_NETEM`), and then also for a target that is not a member (a client namespace).
   */
  async netem(targets: readonly E[], options: NetemOptions): Promise<void> {
    const checked = checkNetem(options);
    const names = this.#names(targets);
    if (await kernelHasNetem()) return this.#change((faults) => faults.netem(names, checked));
    if (checked.duplicate > 0 || checked.reorder > 0)
      throw new UnsupportedFaultError(
        'duplication and reordering need the netem qdisc, and this kernel lacks sch_netem ' +
          '(CONFIG_NET_SCH_NETEM is not set: `tc qdisc add ... netem` fails with "Specified qdisc kind is unknown"); ' +
          'a delay alone works, through relays',
      );
    const outside = this.#notMembers(targets);
    if (outside)
      throw new UnsupportedFaultError(
        `without sch_netem a delay goes through relays between members, and ${outside} ` +
          'is not a member (a client namespace has no peer links to relay)',
      );
    return this.#change((faults) => faults.relayDelay(names, checked));
  }

  /**
   * Delays the link between each member of `from` and each member of `to`, and no other: every connection between
   * the two (either may open it) goes through a relay on the host, as {@link netem}'s delay does without
   * sch_netem, on every kernel (netem's qdisc delays all a node sends, not one link). Each chunk is late by
   * `delayMs` plus up to `jitterMs` each way, order kept: a raft message between the two is late by that much,
   * while the other links stay as they are. Connections open when it begins are killed and redialed through the
   * relay. Where {@link netem} delays a member through relays too (no sch_netem), a link's own delay replaces
   * the member's for that link; a netem qdisc's delay adds to it. Cuts and loss still apply; {@link heal} ends
   * it; `delayMs` 0 ends it for these links.
   *
   * @throws {UnsupportedFaultError} for a target that is not a member (a client namespace: relays forward peer
   *   connections only).
   */
  linkDelay(
    from: readonly E[],
    to: readonly E[],
    delay: { readonly delayMs: number; readonly jitterMs?: number },
  ): Promise<void> {
    const checked = checkNetem(delay);
    const outside = this.#notMembers([...from, ...to]);
    if (outside)
      return Promise.reject(
        new UnsupportedFaultError(
          `a link delay goes through relays between members, and ${outside} ` +
            'is not a member (a client namespace has no peer links to relay)',
        ),
      );
    const a = this.#names(from);
    const b = this.#names(to);
    return this.#change((faults) => faults.linkDelay(a, b, checked));
  }

  /** Ends every fault (with `targets`: every fault that involves one of them). */
  heal(targets?: readonly E[]): Promise<void> {
    const names = targets && this.#names(targets);
    return this.#change((faults) => faults.heal(names), true);
  }

  /** The iptables rules (as `iptables-save` prints them) in each node's namespace now, for tests and reports. */
  async rules(): Promise<Record<string, string>> {
    const entries = await Promise.all(
      this.#driver.faults.nodes.flatMap((name) => {
        const prefix = this.#driver.prefixOf(name);
        if (!prefix) return [];
        const [file = '', ...head] = prefix;
        return [run(file, [...head, 'iptables-save']).then((text) => [name, text] as const)];
      }),
    );
    return Object.fromEntries(entries);
  }

  /** The names of those of `targets` that are not members (relays forward peer connections only), or `undefined`. */
  #notMembers(targets: readonly E[]): string | undefined {
    const members = new Set(this.#driver.members());
    const outside = targets.filter((target) => !members.has(target));
    return outside.length > 0 ? outside.map((target) => target.name).join(', ') : undefined;
  }

  #names(endpoints: readonly E[]): string[] {
    return endpoints.map((e) => this.#driver.nodeOf(e));
  }

  /**
   * Changes the fault state, then brings every node's rules and qdisc in line with it. Without `mutate`, only
   * the latter (for a node with a new namespace), and without checking that faults can be changed.
   */
  #change(mutate?: (faults: LinkFaults) => void, healing = false): Promise<void> {
    const next = this.#queue.then(async () => {
      const { faults } = this.#driver;
      if (mutate) {
        await this.#driver.checkUsable(healing);
        mutate(faults);
      }
      await this.#driver.sync?.();
      // relays before the rules that send connections to them; those no longer wanted after
      const wanted = this.#relaysStopped ? [] : faults.relays();
      const added = wanted.filter((spec) => !this.#relays.has(spec.key));
      await this.#startRelays(wanted);
      const endpoints = new Map<string, RelayEndpoint>();
      for (const [key, relay] of this.#relays)
        endpoints.set(key, { host: this.#driver.relayHost, port: relay.proxy.port });
      // every node, even when one fails (then the change rejects with the first failure, after the rest)
      const applied = await Promise.allSettled(faults.nodes.map((name) => this.#apply(name, endpoints)));
      // connections opened before: killed (`ss -K`, both ends get a reset), so that etcd redials through the relay
      // (one that bypasses its relay all the same is reset by the dialer's filter rules)
      await Promise.all(added.map((spec) => this.#killConnections(spec)));
      const keys = new Set(wanted.map((spec) => spec.key));
      await this.#stopRelays([...this.#relays.keys()].filter((key) => !keys.has(key)));
      const failed = applied.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Starts the relays of `specs` not running yet (or forwarding elsewhere) and sets each one's delay and blackhole. */
  async #startRelays(specs: readonly RelaySpec[]): Promise<void> {
    for (const spec of specs) {
      const target = `${spec.address}:${spec.port}`;
      let relay = this.#relays.get(spec.key);
      if (relay && relay.target !== target) {
        await this.#stopRelays([spec.key]);
        relay = undefined;
      }
      if (!relay) {
        const proxy = await TcpProxy.start({
          host: this.#driver.relayHost,
          listenPort: 0,
          targetHost: spec.address,
          targetPort: spec.port,
        });
        relay = { proxy, target };
        this.#relays.set(spec.key, relay);
      }
      if (spec.blackholed) relay.proxy.blackhole();
      else {
        relay.proxy.heal();
        relay.proxy.delay(spec.delayMs, spec.jitterMs);
      }
    }
  }

  /** Kills the sockets of `spec.from` connected to `spec.to`'s peer port, in its namespace (`ss -K`). */
  async #killConnections(spec: RelaySpec): Promise<void> {
    const prefix = this.#driver.prefixOf(spec.from);
    if (!prefix) return;
    const [file = '', ...head] = prefix;
    const filter = ['dst', spec.address, 'dport', '=', `:${spec.port}`];
    // ss answers EINVAL for sockets it cannot kill (none of ours), yet kills the others
    await run(file, [...head, 'ss', '-K', '-t', ...filter]).catch(() => {});
  }

  async #stopRelays(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map((key) => {
        const relay = this.#relays.get(key);
        this.#relays.delete(key);
        return relay?.proxy.close();
      }),
    );
  }

  async #apply(name: string, relays: ReadonlyMap<string, RelayEndpoint>): Promise<void> {
    const prefix = this.#driver.prefixOf(name);
    if (!prefix) return; // no namespace now (a stopped container): applied when it starts
    const applied = this.#applied.get(name) ?? { via: '', rules: '', qdisc: '' };
    this.#applied.set(name, applied);
    const { faults } = this.#driver;
    const nat = { tag: faults.tag, rules: faults.natOf(name, relays) };
    try {
      await applyFaults(prefix, faults.rulesOf(name, relays), faults.qdiscOf(name), applied, nat);
    } catch (error) {
      // a namespace that went away meanwhile (a container killed) takes no rules: its next one will
      if (this.#driver.prefixOf(name)?.join(' ') === prefix.join(' ')) throw error;
    }
  }
}
