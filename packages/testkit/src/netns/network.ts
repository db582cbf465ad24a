import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import type { Member } from '../cluster.js';
import { NetnsUnavailableError } from '../errors.js';
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
import { type CommandError, ip, ipSync, run } from './commands.js';
import { KernelFaultNetwork, NETNS_PREFIX, reapplyFaults, stopRelays } from './kernel-faults.js';
import { LinkFaults } from './link-faults.js';
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
}

/** Host interfaces of runs start with this, then the owner's pid in base 36, `x`, and the run counter. */
const HOST_LINK_PREFIX = 'etk';
/** Address of the first member (`.10`) and the first client (`.100`) in the run's /24. */
const FIRST_MEMBER = 10;
const FIRST_CLIENT = 100;
/** Where members listen for peers, on their own address. */
const PEER_PORT = 2380;
const MAX_CLIENTS = 150;

let runs = 0;

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
export class NetnsNetwork extends KernelFaultNetwork<NetnsEndpoint> {
  /** `<pid>-<n>`: unique per run on the machine. */
  readonly id: string;
  /** The run's /24, as its first three octets (`10.213.7`). */
  readonly subnet: string;
  /** The host's address on the run's bridge: the source of testkit's probes and of the test's own requests. */
  readonly hostAddress: string;
  readonly #subnet: Subnet;
  readonly #hub: string;
  readonly #hostLink: string;
  readonly #nodes: Map<string, NodeState>;
  readonly #members: Map<Member, NodeState>;
  readonly #faults: LinkFaults;
  readonly #clients = new Set<NetnsClient>();
  /** Shared with the fault driver, which refuses changes once closed. */
  readonly #life: { closed: boolean };

  private constructor(id: string, subnet: Subnet, hostLink: string) {
    const nodes = new Map<string, NodeState>();
    const members = new Map<Member, NodeState>();
    const faults = new LinkFaults(`etcdkit-${id}`, `${subnet.prefix}.1`);
    const life = { closed: false };
    super({
      faults,
      relayHost: `${subnet.prefix}.1`,
      nodeOf: (endpoint) => nodeOf(nodes, members, endpoint, id).name,
      members: () => [...members.keys()],
      prefixOf: (name) => {
        const node = nodes.get(name);
        return node && ['ip', 'netns', 'exec', node.namespace];
      },
      checkUsable: async () => {
        if (life.closed) throw new NetnsUnavailableError(`the network of run ${id} is closed`);
      },
    });
    this.#nodes = nodes;
    this.#members = members;
    this.#faults = faults;
    this.#life = life;
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
    return this.#addNode(name, `${this.subnet}.${FIRST_MEMBER + index}`, PEER_PORT);
  }

  /** Binds a member to its node, so that faults can name it. */
  attach(member: Member, node: NetnsNode): void {
    this.#members.set(member, this.#nodes.get(node.name)!);
  }

  async #addNode(name: string, address: string, peerPort?: number): Promise<NodeState> {
    if (this.#life.closed) throw new NetnsUnavailableError(`the network of run ${this.id} is closed`);
    if (this.#nodes.has(name)) throw new TypeError(`a node named ${JSON.stringify(name)} exists already`);
    const node: NodeState = {
      name,
      namespace: `${NETNS_PREFIX}${this.id}-${name}`,
      address,
      hubLink: `v-${name}`,
    };
    this.#nodes.set(name, node);
    this.#faults.setNode(name, address, peerPort);
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
        this.#faults.removeNode(name);
        this.#nodes.delete(name);
        await this.#deleteNamespace(node.namespace);
      },
      [Symbol.asyncDispose]: () => client.close(),
    };
    this.#clients.add(client);
    return client;
  }

  #node(endpoint: NetnsEndpoint): NodeState {
    return nodeOf(this.#nodes, this.#members, endpoint, this.id);
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
    if (this.#life.closed) return;
    await reapplyFaults(this).catch(() => {});
    await Promise.all([...this.#clients].map((client) => client.close()));
    this.#life.closed = true;
    await stopRelays(this);
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
    if (this.#life.closed) return;
    this.#life.closed = true;
    for (const ns of this.namespaces) ipSync('netns', 'delete', ns);
    ipSync('link', 'delete', this.#hostLink);
    releaseSubnet(this.#subnet);
  }
}

/** The node of `endpoint` (a member or a client of run `id`). */
function nodeOf(
  nodes: ReadonlyMap<string, NodeState>,
  members: ReadonlyMap<Member, NodeState>,
  endpoint: NetnsEndpoint,
  id: string,
): NodeState {
  const member = members.get(endpoint as Member);
  if (member) return member;
  const node = nodes.get(endpoint.name);
  if (node && node.namespace === (endpoint as NetnsNode).namespace) return node;
  throw new TypeError(`${endpoint.name} is neither a member nor a client of netns run ${id}`);
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
