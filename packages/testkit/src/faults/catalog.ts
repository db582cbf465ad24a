import type { Cluster, Link, Member } from '../cluster.js';
import { UnsupportedFaultError } from '../errors.js';
import { KernelFaultNetwork } from '../netns/kernel-faults.js';

/** A fault the schedule can inject, and how to undo it. */
export type FaultKind =
  | 'kill'
  | 'stop'
  | 'pause'
  | 'restart'
  | 'replace'
  | 'isolate'
  | 'delay'
  | 'drop'
  | 'reset'
  | 'loss';

/** Faults that only need the member's process or container. */
export const PROCESS_FAULTS: readonly FaultKind[] = ['kill', 'stop', 'pause', 'restart', 'replace'];
/** Faults through the proxies (`reset` needs `clientProxies`). */
export const NETWORK_FAULTS: readonly FaultKind[] = ['isolate', 'delay', 'drop', 'reset'];
/**
 * Faults in the kernel's network stack, on the netns backend and Docker bridge networks: packet loss (iptables
 * `statistic`).
 */
export const KERNEL_FAULTS: readonly FaultKind[] = ['loss'];

/** Parameters of the network faults. */
export interface FaultParams {
  /** `delay`: added latency, ms. Default 100. */
  readonly delayMs?: number;
  /** `delay`: random extra latency `0..jitterMs`. Default 50. */
  readonly jitterMs?: number;
  /** `drop`: fraction of connections reset. Default 0.5. */
  readonly dropFraction?: number;
  /** `loss`: fraction of the member's packets lost (netns backend). Default 0.3. */
  readonly lossFraction?: number;
  /** Link of `delay` and `drop`. Default `peer`. */
  readonly link?: Link;
}

/**
 * Injects `kind` on `member`. Faults that end by themselves (`restart`, `replace`, `reset`) are complete when
 * this resolves; the others last until {@link undoFault} (or `cluster.restoreAll()`).
 */
export async function injectFault(
  cluster: Cluster,
  member: Member,
  kind: FaultKind,
  params: FaultParams = {},
): Promise<void> {
  switch (kind) {
    case 'kill':
      return member.kill();
    case 'stop':
      return member.stop();
    case 'pause':
      return member.pause();
    case 'restart':
      return member.restart({ waitHealthy: false });
    case 'replace':
      return cluster.replace(member);
    case 'isolate':
      return member.isolate();
    case 'delay':
      return member.delay(params.delayMs ?? 100, {
        jitterMs: params.jitterMs ?? 50,
        link: params.link ?? 'peer',
      });
    case 'drop':
      return member.dropConnections(params.dropFraction ?? 0.5, { link: params.link ?? 'peer' });
    case 'reset':
      return member.resetConnections({ link: 'client' });
    case 'loss': {
      const network = kernelFaultsOf(cluster);
      if (!network) {
        throw new UnsupportedFaultError(
          `packet loss needs kernel faults (the netns backend, or a Docker bridge network), not ${cluster.backend}`,
        );
      }
      return network.loss([member], params.lossFraction ?? 0.3);
    }
  }
}

/** The cluster's kernel-level fault network (netns backend, Docker bridge network), if it has one. */
function kernelFaultsOf(cluster: Cluster): KernelFaultNetwork<Member> | undefined {
  const network = (cluster as { readonly network?: unknown }).network;
  return network instanceof KernelFaultNetwork ? (network as KernelFaultNetwork<Member>) : undefined;
}

/** Undoes a fault on one member: heals its network, resumes it, or starts it again on its data. */
export async function undoFault(member: Member): Promise<void> {
  await member.heal();
  if (member.state === 'paused') await member.resume();
  if (member.state === 'exited') await member.restart({ waitHealthy: false });
}
