import { hostname } from 'node:os';
import { processAlive } from '../internal/process-alive.js';
import { LABEL, loadTestcontainers } from './runtime.js';

/** The labels of everything this process makes (the sweep finds them by these), with the cluster's token if any. */
export function ownLabels(token?: string): Record<string, string> {
  return {
    [LABEL.testkit]: 'true',
    [LABEL.owner]: `${hostname()}:${process.pid}`,
    ...(token ? { [LABEL.cluster]: token } : {}),
  };
}

/** True when `owner` (`host:pid`) names a process of this host that no longer runs. */
function orphaned(owner: string | undefined): boolean {
  if (!owner) return true;
  const colon = owner.lastIndexOf(':');
  if (owner.slice(0, colon) !== hostname()) return false;
  return !processAlive(Number(owner.slice(colon + 1)));
}

/**
 * Removes the containers and networks testkit's Docker backend left behind on this host: those whose owning
 * process is gone (a crashed or SIGKILLed test run), or, with `all`, every one. It is what testcontainers'
 * ryuk would do, for machines where its image cannot be pulled; the Docker backend runs it before each start.
 * Resolves to what was removed.
 */
export async function sweepDockerLeftovers(
  options: { all?: boolean } = {},
): Promise<{ containers: string[]; networks: string[] }> {
  const { getContainerRuntimeClient } = await loadTestcontainers();
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const filters = JSON.stringify({ label: [`${LABEL.testkit}=true`] });
  const removed = { containers: [] as string[], networks: [] as string[] };
  for (const info of await docker.listContainers({ all: true, filters })) {
    if (!options.all && !orphaned(info.Labels[LABEL.owner])) continue;
    await docker
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .then(() => removed.containers.push(info.Id))
      .catch(() => {});
  }
  for (const info of await docker.listNetworks({ filters })) {
    if (!options.all && !orphaned(info.Labels?.[LABEL.owner])) continue;
    await docker
      .getNetwork(info.Id)
      .remove()
      .then(() => removed.networks.push(info.Id))
      .catch(() => {});
  }
  return removed;
}
