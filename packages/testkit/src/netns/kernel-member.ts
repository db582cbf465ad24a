import type { Link } from '../cluster.js';
import { UnsupportedFaultError } from '../errors.js';
import { EtcdMember, type EtcdMemberSpec } from '../member.js';
import { type KernelFaultNetwork, reapplyFaults } from './kernel-faults.js';

/** What a member needs of its run's network. */
type MemberFaults = Pick<KernelFaultNetwork<EtcdMember>, 'heal' | 'netem'>;

/**
 * A member whose peer-link faults are the kernel's, in its own network namespace (netns backend, Docker bridge
 * networks): a peer-link `delay()` is netem on its interface where the kernel has sch_netem, else relays on the
 * host (see {@link KernelFaultNetwork.netem}), `heal()` also ends
 * every fault of the run's {@link KernelFaultNetwork} that involves it, and each start applies the run's faults
 * to its namespace (a restarted container has a new one).
 */
export class KernelFaultMember extends EtcdMember {
  readonly #network: MemberFaults;
  readonly #backend: string;

  /** @param backend - what errors call the backend (`the netns backend`). */
  constructor(spec: EtcdMemberSpec, network: MemberFaults, backend: string) {
    super(spec);
    this.#network = network;
    this.#backend = backend;
  }

  override async start(initialCluster: string, state: 'new' | 'existing'): Promise<void> {
    await super.start(initialCluster, state);
    await reapplyFaults(this.#network);
  }

  override async heal(): Promise<void> {
    await super.heal();
    await this.#network.heal([this]);
  }

  /**
   * On the peer link (default): where the kernel has sch_netem, netem on the member's interface, so every packet
   * it sends (raft and client replies alike) waits `ms` plus up to `jitterMs`. Where it lacks it, relays on the
   * host delay every connection between it and the other members, both ways, by `ms` plus up to `jitterMs` per
   * chunk, order kept (as the process backend's proxies do): each raft message it sends or receives is that late;
   * client traffic is not delayed (see {@link KernelFaultNetwork.netem}).
   * `heal()` ends it.
   */
  override async delay(ms: number, options: { jitterMs?: number; link?: Link } = {}): Promise<void> {
    if (options.link === 'client') return super.delay(ms, options);
    await this.#network.netem([this], { delayMs: ms, jitterMs: options.jitterMs ?? 0 });
  }

  override async dropConnections(fraction: number, options: { link?: Link } = {}): Promise<void> {
    if (options.link === 'client') return super.dropConnections(fraction, options);
    throw new UnsupportedFaultError(
      `cannot drop connections on the peer link of ${this.name}: ${this.#backend} has no peer proxy; ` +
        'lose packets instead with cluster.network.loss([member], fraction)',
    );
  }
}
