import { readFileSync, readlinkSync } from 'node:fs';
import type Dockerode from 'dockerode';
import type { Member } from '../cluster.js';
import { UnsupportedFaultError } from '../errors.js';
import { forgetNetwork, reapNetwork } from '../internal/reaper.js';
import type { NetworkAttachment } from '../launchers/launcher.js';
import { run } from '../netns/commands.js';
import { KernelFaultNetwork, stopRelays } from '../netns/kernel-faults.js';
import { LinkFaults } from '../netns/link-faults.js';
import type { ContainerLauncher } from './container-launcher.js';
import { ownLabels } from './sweep.js';

/** Where members listen for peers in their containers. */
const PEER_PORT = 2380;

/** Why kernel faults cannot be made on this machine (`''`: they can), checked once per process. */
let support: Promise<string> | undefined;
function kernelFaultSupport(): Promise<string> {
  support ??= (async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0)
      return "they enter the containers' network namespaces from the host (nsenter), which needs root on the Docker host";
    for (const [tool, args, pkg] of [
      ['nsenter', ['--version'], 'util-linux'],
      ['tc', ['-V'], 'iproute2'],
      ['iptables-restore', ['--version'], 'iptables'],
    ] as const) {
      const missing = await run(tool, args).then(
        () => false,
        () => true,
      );
      if (missing) return `they need ${tool} on the host (Debian/Ubuntu: apt-get install ${pkg})`;
    }
    return '';
  })();
  return support;
}

/** The inode of a network namespace file, `''` when it cannot be read. */
function netnsOf(pid: number | 'self'): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return '';
  }
}

/**
 * A Docker bridge network of a cluster's own, and kernel faults in its containers' network namespaces, made from
 * the host: `nsenter --net=/proc/<pid>/ns/net iptables-restore` / `tc`, with the container's pid from the
 * engine. Nothing is needed in the image (no shell, no `tc`, no NET_ADMIN) and nothing is added to the host's own
 * iptables; a container's rules and qdisc go with its namespace, and each start of a member applies the faults
 * to its new one. The host (the bridge's gateway: testkit's probes, published ports) is never cut. Needs root on
 * the Docker host, a local engine, and iptables, iproute2 and util-linux there; without them the faults throw
 * {@link UnsupportedFaultError} and `isolate()` disconnects the container from the network instead.
 */
export class DockerBridgeNetwork extends KernelFaultNetwork<Member> {
  /** The Docker network's name (the cluster token). */
  readonly name: string;
  /** The bridge's gateway: the host's address on it, the source of testkit's probes. */
  readonly hostAddress: string;
  readonly #network: Dockerode.Network;
  readonly #members: Map<Member, ContainerLauncher>;

  private constructor(network: Dockerode.Network, name: string, gateway: string) {
    const members = new Map<Member, ContainerLauncher>();
    /** Whether kernel faults can be made here, as the last apply found. */
    let usable = false;
    const faults = new LinkFaults(name, gateway);
    const byName = (node: string): ContainerLauncher | undefined =>
      [...members].find(([member]) => member.name === node)?.[1];
    super({
      faults,
      relayHost: gateway,
      nodeOf: (endpoint) => {
        if (!members.has(endpoint))
          throw new TypeError(`${endpoint.name} is no member of the cluster on Docker network ${name}`);
        return endpoint.name;
      },
      members: () => [...members.keys()],
      sync: async () => {
        usable = !(await kernelFaultSupport());
        for (const [member, launcher] of members)
          if (launcher.address) faults.setNode(member.name, launcher.address, PEER_PORT);
      },
      prefixOf: (node) => {
        const launcher = byName(node);
        const pid = launcher?.pid;
        if (!usable || !pid || !launcher.containerId || !insideContainer(pid, launcher.containerId))
          return undefined;
        return ['nsenter', `--net=/proc/${pid}/ns/net`];
      },
      checkUsable: async (healing) => {
        const reason = await kernelFaultSupport();
        if (reason && !healing)
          throw new UnsupportedFaultError(`network faults on a Docker bridge network: ${reason}`);
      },
    });
    this.#network = network;
    this.#members = members;
    this.name = name;
    this.hostAddress = gateway;
  }

  /**
   * Makes the bridge network `name`, labelled as the cluster's (the reaper removes it if the process dies).
   * @internal Its dockerode parameter stays out of the published types (testcontainers is an optional peer).
   */
  static async create(docker: Dockerode, name: string): Promise<DockerBridgeNetwork> {
    const network = await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: ownLabels(name) });
    reapNetwork(network.id);
    try {
      const info = (await network.inspect()) as { IPAM?: { Config?: { Gateway?: string }[] } };
      const gateway = info.IPAM?.Config?.find((config) => config.Gateway?.includes('.'))?.Gateway;
      if (!gateway) throw new Error(`Docker network ${name} has no IPv4 gateway`);
      return new DockerBridgeNetwork(network, name, gateway);
    } catch (error) {
      await network.remove().catch(() => {});
      forgetNetwork(network.id);
      throw error;
    }
  }

  /**
   * Binds `member` to its container, so that faults can name it, and returns how it is isolated: in the kernel
   * when kernel faults can be made here, else by disconnecting the container from the network.
   */
  attach(member: Member, launcher: ContainerLauncher, alias: string): NetworkAttachment {
    this.#members.set(member, launcher);
    const container = (): string => launcher.containerId ?? alias;
    return {
      disconnect: async () => {
        if (await kernelFaultSupport())
          await this.#network.disconnect({ Container: container(), Force: true });
        else await this.isolate(member);
      },
      connect: async () => {
        if (await kernelFaultSupport())
          await this.#network.connect({ Container: container(), EndpointConfig: { Aliases: [alias] } });
        else await this.heal([member]);
      },
    };
  }

  /**
   * Stops the relays of delayed links and removes the network (once its containers are gone: their namespaces
   * took the faults with them).
   */
  async remove(): Promise<void> {
    await stopRelays(this).catch(() => {});
    await this.#network.remove().catch(() => {});
    forgetNetwork(this.#network.id);
  }
}

/**
 * Whether `pid` runs in container `id` and in a network namespace other than ours: with a remote or rootless
 * engine the engine's pid means another process here, whose namespace (maybe the host's) must not be touched.
 */
function insideContainer(pid: number, id: string): boolean {
  let cgroup = '';
  try {
    cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return false;
  }
  const netns = netnsOf(pid);
  return cgroup.includes(id) && netns !== '' && netns !== netnsOf('self');
}
