/**
 * The kernel-fault state of one run (blocked edges, packet loss, rate limits, netem, relayed delays) and its
 * rendering, per node, into what the node's network namespace must hold: a whole iptables filter table, the rules
 * of testkit's chain in its nat table, and a root qdisc. Pure: no I/O, shared by the netns backend and Docker
 * bridge networks.
 */

/** Options of a netem fault: what the kernel's netem qdisc does to a node's outgoing packets. */
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

/** A delay of a node's peer link through a userspace relay (kernels without netem). */
export interface RelayDelay {
  /** Added latency of each chunk, both ways, ms. */
  readonly delayMs: number;
  /** Random extra latency of each chunk, ms (order kept). */
  readonly jitterMs: number;
}

/**
 * A relayed connection edge: connections `from` opens to `to`'s peer port go through a relay on the host, which
 * delays what it forwards (both ways) and drops everything while the link is cut in either direction.
 */
export interface RelaySpec extends RelayDelay {
  /** `from>to`. */
  readonly key: string;
  readonly from: string;
  readonly to: string;
  /** Where the relay forwards to: `to`'s address and peer port. */
  readonly address: string;
  readonly port: number;
  /** True while packets from `from` to `to`, or back, are dropped: the relay holds its connections and drops bytes. */
  readonly blackholed: boolean;
}

/** Where a relay listens (on the host). */
export interface RelayEndpoint {
  readonly host: string;
  readonly port: number;
}

/** testkit's chain in a node's nat table, jumped to from OUTPUT: the DNAT rules of relayed links. */
export const RELAY_CHAIN = 'ETCDKIT-RELAY';

/**
 * The `iptables-restore --noflush` input that makes {@link RELAY_CHAIN} hold exactly `rules` (lines from
 * {@link LinkFaults.natOf}), and with `hook` first adds the jump to it from OUTPUT (once per namespace). Other
 * nat rules of the namespace (Docker's embedded DNS has some) are left alone.
 */
export function natRestore(tag: string, rules: string, hook: boolean): string {
  const lines = ['*nat', `:${RELAY_CHAIN} - [0:0]`];
  if (hook) lines.push(`-A OUTPUT -m comment --comment ${tag} -j ${RELAY_CHAIN}`);
  if (rules) lines.push(rules);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The probability that a packet survives none of `fractions`' losses, rounded like the rules print it. */
const combined = (...fractions: (number | undefined)[]): number =>
  Math.round((1 - fractions.reduce<number>((keep, f) => keep * (1 - (f ?? 0)), 1)) * 1e6) / 1e6;

const HEADER = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
/** The filter table with no rules: what a new network namespace has. */
export const NO_RULES = [...HEADER, 'COMMIT', ''].join('\n');

const edge = (from: string, to: string): string => `${from}>${to}`;

/**
 * Sets `value` on the directed edges from each of `from` to each of `to` (and back, unless `oneWay`), a node
 * never to itself; `undefined` removes them.
 */
function setLinks<T>(
  map: Map<string, T>,
  from: readonly string[],
  to: readonly string[],
  value: T | undefined,
  oneWay: boolean,
): void {
  for (const s of from)
    for (const r of to) {
      if (s === r) continue;
      for (const key of oneWay ? [edge(s, r)] : [edge(s, r), edge(r, s)])
        if (value === undefined) map.delete(key);
        else map.set(key, value);
    }
}

/** The default class's rate when a node with link rates has no rate of its own: 10 Gbit/s, no limit in effect. */
const UNLIMITED_KBIT = 10_000_000;
const percent = (fraction: number): string => `${Math.round(fraction * 1e6) / 1e4}%`;

/** @throws {RangeError} unless `value` is within 0..1. */
export function checkFraction(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be within 0..1, got ${value}`);
}

/** @throws {RangeError} unless `kbitPerSecond` is at least 1. */
export function checkRate(kbitPerSecond: number): void {
  if (!(kbitPerSecond >= 1)) throw new RangeError(`kbitPerSecond must be >= 1, got ${kbitPerSecond}`);
}

/**
 * `options` with every field set, checked.
 *
 * @throws {RangeError} on a negative delay, a fraction outside 0..1, or jitter / reordering without a delay.
 */
export function checkNetem(options: NetemOptions): Required<NetemOptions> {
  const { delayMs = 0, jitterMs = 0, duplicate = 0, reorder = 0 } = options;
  if (!(delayMs >= 0 && jitterMs >= 0)) throw new RangeError('delayMs and jitterMs must be >= 0');
  checkFraction('duplicate', duplicate);
  checkFraction('reorder', reorder);
  if ((jitterMs > 0 || reorder > 0) && delayMs <= 0)
    throw new RangeError('jitterMs and reorder need a delayMs above 0');
  return { delayMs, jitterMs, duplicate, reorder };
}

/**
 * Which packets between the nodes of a run the kernel drops, delays or throttles. Nodes are known by name and
 * address; every fault is stated in node names. Rules are tagged `-m comment --comment <tag>`; packets from and
 * to `exempt` (the host: testkit's probes, the test's own requests) are never dropped by the loss rules.
 */
export class LinkFaults {
  readonly #tag: string;
  readonly #exempt: string;
  /** Node name to its address, in the order nodes were added. */
  readonly #nodes = new Map<string, string>();
  /** Directed edges whose packets are dropped (`from>to`). */
  readonly #blocked = new Set<string>();
  /** Directed edges losing a fraction of their packets. */
  readonly #linkLoss = new Map<string, number>();
  /** Nodes losing a fraction of what they send and receive (the exempt address aside). */
  readonly #nodeLoss = new Map<string, number>();
  readonly #rate = new Map<string, number>();
  /** Directed edges whose packets are limited to a rate (kbit/s), in the sender's namespace. */
  readonly #linkRate = new Map<string, number>();
  readonly #netem = new Map<string, Required<NetemOptions>>();
  /** Node name to its peer port (members only): what relayed delays forward to. */
  readonly #peerPorts = new Map<string, number>();
  /** Members whose peer link is delayed by relays (every connection between it and another member). */
  readonly #relayDelay = new Map<string, RelayDelay>();
  /** Links between two members delayed by relays, both directed edges (`from>to` and `to>from`) stored. */
  readonly #linkDelay = new Map<string, RelayDelay>();

  /**
   * @param tag - the comment on every rule (`etcdkit-<run>`).
   * @param exempt - the address whose traffic loss never touches (the host's on the run's bridge).
   */
  constructor(tag: string, exempt: string) {
    this.#tag = tag;
    this.#exempt = exempt;
  }

  /** The comment on every rule. */
  get tag(): string {
    return this.#tag;
  }

  /**
   * Adds node `name` at `address`, or moves it there (a container restarted with another address). `peerPort`:
   * a member's, where its peers connect (what a relayed delay forwards to); clients have none.
   */
  setNode(name: string, address: string, peerPort?: number): void {
    this.#nodes.set(name, address);
    if (peerPort) this.#peerPorts.set(name, peerPort);
    else this.#peerPorts.delete(name);
  }

  /** Forgets node `name` and every fault that involves it. */
  removeNode(name: string): void {
    this.heal([name]);
    this.#nodes.delete(name);
    this.#peerPorts.delete(name);
  }

  /** The names of the nodes, in the order they were added. */
  get nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Packets from each of `from` to each of `to` are dropped (a node is never cut from itself). */
  cut(from: readonly string[], to: readonly string[]): void {
    for (const s of from) for (const r of to) if (s !== r) this.#blocked.add(edge(s, r));
  }

  /** No node of one group reaches a node of another, both ways. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const [i, a] of groups.entries()) for (const [j, b] of groups.entries()) if (i !== j) this.cut(a, b);
  }

  /**
   * `names` form a ring in which each node reaches only the nodes within ⌈⌊n/2⌋/2⌉ steps of it (Jepsen's
   * majorities ring).
   */
  ring(names: readonly string[]): void {
    const n = names.length;
    const reach = Math.ceil(Math.floor(n / 2) / 2);
    for (const [i, a] of names.entries())
      for (const [j, b] of names.entries()) {
        const distance = Math.min(Math.abs(i - j), n - Math.abs(i - j));
        if (distance > reach) this.#blocked.add(edge(a, b));
      }
  }

  /** Each of `names` loses `fraction` of what it sends and receives (0 ends it). */
  loss(names: readonly string[], fraction: number): void {
    checkFraction('fraction', fraction);
    for (const name of names)
      if (fraction > 0) this.#nodeLoss.set(name, fraction);
      else this.#nodeLoss.delete(name);
  }

  /** Packets from each of `from` to each of `to` (and back, unless `oneWay`) are lost with probability `fraction`. */
  linkLoss(from: readonly string[], to: readonly string[], fraction: number, oneWay = false): void {
    checkFraction('fraction', fraction);
    setLinks(this.#linkLoss, from, to, fraction, oneWay);
  }

  /** What each of `names` sends is limited to `kbitPerSecond`. */
  rate(names: readonly string[], kbitPerSecond: number): void {
    checkRate(kbitPerSecond);
    for (const name of names) this.#rate.set(name, kbitPerSecond);
  }

  /**
   * What each of `from` sends to each of `to` (and back, unless `oneWay`) is limited to `kbitPerSecond` (0 ends
   * it): an htb class of its own on the sender's interface, under the sender's own {@link rate} if it has one.
   */
  linkRate(from: readonly string[], to: readonly string[], kbitPerSecond: number, oneWay = false): void {
    if (kbitPerSecond !== 0) checkRate(kbitPerSecond);
    setLinks(this.#linkRate, from, to, kbitPerSecond > 0 ? kbitPerSecond : undefined, oneWay);
  }

  /** What each of `names` sends goes through netem with `options`. */
  netem(names: readonly string[], options: NetemOptions): void {
    const checked = checkNetem(options);
    for (const name of names) this.#netem.set(name, checked);
  }

  /**
   * The peer link of each of `names` is delayed by relays on the host: every connection between it and another
   * member, whichever opens it, goes through one (a DNAT rule in the nat table of the member that opens it),
   * which delays each chunk both ways by `delayMs` plus up to `jitterMs`, order kept: each raft message it sends
   * or receives is late by that much. `delayMs` 0 ends it.
   */
  relayDelay(names: readonly string[], delay: RelayDelay): void {
    const { delayMs, jitterMs } = checkNetem(delay);
    for (const name of names)
      if (delayMs > 0) this.#relayDelay.set(name, { delayMs, jitterMs });
      else this.#relayDelay.delete(name);
  }

  /**
   * The link between each of `from` and each of `to` (members) is delayed by relays on the host, as
   * {@link relayDelay} delays a member's every link: each connection between the two, whichever opens it, delays
   * each chunk both ways by `delayMs` plus up to `jitterMs`, order kept. A link's own delay replaces its
   * members' for that link. `delayMs` 0 ends it.
   */
  linkDelay(from: readonly string[], to: readonly string[], delay: RelayDelay): void {
    const { delayMs, jitterMs } = checkNetem(delay);
    setLinks(this.#linkDelay, from, to, delayMs > 0 ? { delayMs, jitterMs } : undefined, false);
  }

  /**
   * The relayed edges the state asks for, in node order: each connection between members whose link is delayed
   * (by {@link linkDelay}, or because one of them is delayed), whichever opens it, with the link's own delay if
   * it has one, else the delay of the member it goes to when that one is delayed, else of the one that opens it;
   * blackholed while the link is cut either way (the relay's own packets come from the host, which no rule
   * drops).
   */
  relays(): RelaySpec[] {
    const specs: RelaySpec[] = [];
    for (const [to, port] of this.#peerPorts) {
      const address = this.#nodes.get(to);
      if (!address) continue;
      for (const from of this.#peerPorts.keys()) {
        const delay =
          this.#linkDelay.get(edge(from, to)) ?? this.#relayDelay.get(to) ?? this.#relayDelay.get(from);
        if (from === to || !delay || !this.#nodes.has(from)) continue;
        const blackholed = this.#blocked.has(edge(from, to)) || this.#blocked.has(edge(to, from));
        specs.push({ key: edge(from, to), from, to, address, port, ...delay, blackholed });
      }
    }
    return specs;
  }

  /**
   * The rules of {@link RELAY_CHAIN} in node `name`'s nat table: a DNAT of its new connections to each relayed
   * peer onto that edge's relay (`relays`: edge key to where its relay listens), `''` for none.
   */
  natOf(name: string, relays: ReadonlyMap<string, RelayEndpoint>): string {
    const tag = `-m comment --comment ${this.#tag}`;
    const lines: string[] = [];
    for (const spec of this.relays()) {
      const relay = relays.get(spec.key);
      if (spec.from !== name || !relay) continue;
      lines.push(
        `-A ${RELAY_CHAIN} -d ${spec.address}/32 -p tcp -m tcp --dport ${spec.port} ${tag} ` +
          `-j DNAT --to-destination ${relay.host}:${relay.port}`,
      );
    }
    return lines.join('\n');
  }

  /** Ends every fault (with `names`: every fault that involves one of them). */
  heal(names?: readonly string[]): void {
    const set = names ? new Set(names) : undefined;
    const involves = (key: string): boolean => {
      if (!set) return true;
      const [from = '', to = ''] = key.split('>');
      return set.has(from) || set.has(to);
    };
    for (const key of [...this.#blocked]) if (involves(key)) this.#blocked.delete(key);
    for (const map of [this.#linkLoss, this.#linkDelay, this.#linkRate])
      for (const key of [...map.keys()]) if (involves(key)) map.delete(key);
    for (const map of [this.#nodeLoss, this.#rate, this.#netem, this.#relayDelay])
      for (const key of [...map.keys()]) if (!set || set.has(key)) map.delete(key);
  }

  /**
   * The whole filter table of node `name`'s namespace, for `iptables-restore`: drops in its INPUT chain for the
   * blocked and lossy edges into it, and for its own loss in INPUT and OUTPUT (the exempt address and loopback
   * aside). With relayed delays: a reset of its connections to a relayed peer that bypass the relay, and, for
   * its connections through relays (`relays`), the loss of both ends and of the link, on the relay's port.
   */
  rulesOf(name: string, relays: ReadonlyMap<string, RelayEndpoint> = new Map()): string {
    const tag = `-m comment --comment ${this.#tag}`;
    const lines = [...HEADER];
    const random = (fraction: number): string => `-m statistic --mode random --probability ${fraction}`;
    for (const [other, address] of this.#nodes) {
      if (other === name) continue;
      if (this.#blocked.has(edge(other, name))) lines.push(`-A INPUT -s ${address}/32 ${tag} -j DROP`);
      const loss = this.#linkLoss.get(edge(other, name));
      if (loss) lines.push(`-A INPUT -s ${address}/32 ${random(loss)} ${tag} -j DROP`);
    }
    const loss = this.#nodeLoss.get(name);
    if (loss) {
      // not on loopback: a container resolves its peers' names through Docker's DNS on 127.0.0.11
      lines.push(`-A INPUT ! -i lo ! -s ${this.#exempt}/32 ${random(loss)} ${tag} -j DROP`);
      lines.push(`-A OUTPUT ! -o lo ! -d ${this.#exempt}/32 ${random(loss)} ${tag} -j DROP`);
    }
    for (const spec of this.relays()) {
      const relay = relays.get(spec.key);
      if (spec.from !== name || !relay) continue;
      // a connection to the peer that bypasses the relay (open before its DNAT rule: after ss -K missed it, on
      // a kernel without INET_DIAG_DESTROY, or made while a restarted member's rules were not in yet) is reset
      // at its next packet; filter OUTPUT sees the destination after DNAT, so relayed ones pass. A reset goes
      // out (ss -K's own, for the peer's end of a killed connection: dropped, it left that end open)
      lines.push(
        `-A OUTPUT -d ${spec.address}/32 -p tcp -m tcp --dport ${spec.port} ! --tcp-flags RST RST ${tag} -j REJECT --reject-with tcp-reset`,
      );
      const ends = [this.#nodeLoss.get(spec.from), this.#nodeLoss.get(spec.to)];
      const out = combined(...ends, this.#linkLoss.get(spec.key));
      const back = combined(...ends, this.#linkLoss.get(edge(spec.to, spec.from)));
      if (out)
        lines.push(
          `-A OUTPUT -d ${relay.host}/32 -p tcp -m tcp --dport ${relay.port} ${random(out)} ${tag} -j DROP`,
        );
      if (back)
        lines.push(
          `-A INPUT -s ${relay.host}/32 -p tcp -m tcp --sport ${relay.port} ${random(back)} ${tag} -j DROP`,
        );
    }
    lines.push('COMMIT', '');
    return lines.join('\n');
  }

  /**
   * The qdiscs of node `name`'s interface, `''` for none: the first line is the root qdisc (`tc qdisc add dev eth0
   * root` arguments); with link rates ({@link linkRate}) the root is htb and each further line is a whole `tc`
   * command (without `tc`): one parent class at the node's own {@link rate} (else unlimited), which bounds all it
   * sends; beneath it a leaf for the rest of its traffic (the default) and a leaf per limited peer, picked by a
   * u32 filter on the peer's address, each with a netem qdisc beneath it when the node has netem. A leaf is
   * guaranteed almost nothing and borrows up to its ceiling (the link's rate). A relayed (delayed) link's
   * connections go to the relay's address, which no filter names: a link rate does not limit them.
   */
  qdiscOf(name: string): string {
    const limited = [...this.#linkRate].filter(([key]) => key.startsWith(`${name}>`));
    if (limited.length === 0) return this.#rootQdisc(name);
    const own = this.#rate.get(name) ?? UNLIMITED_KBIT;
    const dev = 'dev eth0';
    const netem = this.#netem.has(name) ? this.#netemArgs(name, false) : undefined;
    const lines = [
      'handle 1: htb default ffff',
      `class add ${dev} parent 1: classid 1:1 htb rate ${own}kbit`,
    ];
    /** A leaf class under the parent, with netem beneath it if any. */
    const leaf = (minor: string, ceil: number): void => {
      lines.push(
        `class add ${dev} parent 1:1 classid 1:${minor} htb rate ${Math.min(8, ceil)}kbit ceil ${ceil}kbit`,
      );
      if (netem) lines.push(`qdisc add ${dev} parent 1:${minor} ${netem}`);
    };
    leaf('ffff', own);
    for (const [i, [key, kbit]] of limited.entries()) {
      const address = this.#nodes.get(key.slice(name.length + 1));
      if (!address) continue;
      const minor = (i + 2).toString(16);
      leaf(minor, Math.min(kbit, own));
      lines.push(
        `filter add ${dev} parent 1: protocol ip prio 1 u32 match ip dst ${address}/32 flowid 1:${minor}`,
      );
    }
    return lines.join('\n');
  }

  /** The root qdisc of node `name`'s interface without link rates (`tc qdisc add ... root` arguments), or `''`. */
  #rootQdisc(name: string): string {
    const rate = this.#rate.get(name);
    if (this.#netem.has(name)) return this.#netemArgs(name, true);
    if (rate) {
      // a bucket of 20 ms at that rate, at least two full-size frames
      const burst = Math.max(3200, Math.ceil((rate * 1000) / 8 / 50));
      return `tbf rate ${rate}kbit burst ${burst} latency 200ms`;
    }
    return '';
  }

  /** Node `name`'s netem qdisc arguments (it has netem), carrying its own rate if `withRate` and it has one. */
  #netemArgs(name: string, withRate: boolean): string {
    const netem = this.#netem.get(name)!;
    const rate = this.#rate.get(name);
    const parts = ['netem'];
    if (netem.delayMs)
      parts.push('delay', `${netem.delayMs}ms`, ...(netem.jitterMs ? [`${netem.jitterMs}ms`] : []));
    if (netem.duplicate) parts.push('duplicate', percent(netem.duplicate));
    if (netem.reorder) parts.push('reorder', percent(netem.reorder));
    if (withRate && rate) parts.push('rate', `${rate}kbit`);
    return parts.join(' ');
  }
}
