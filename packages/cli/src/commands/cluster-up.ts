import {
  buildLocalEtcdImage,
  type Cluster,
  type StartAnyClusterOptions,
  startCluster,
  TcpProxy,
} from '@etcdkit/testkit';
import { CliError } from '../errors.js';
import { interrupted } from '../run-command.js';
import { UsageError } from '../usage.js';

/** Options of `etcdkit cluster up`. */
export interface ClusterUpValues {
  size: number;
  backend: 'process' | 'docker';
  image?: string | undefined;
  network?: 'host' | 'bridge' | undefined;
  /** Client port of the first member; the others follow (port + 1, ...). Unset: free ports. */
  port?: number | undefined;
  output: 'text' | 'json';
}

/** What `cluster up -o json` prints, one line. */
export interface ClusterUpJSON {
  version: string;
  backend: string;
  endpoints: string[];
  members: { name: string; clientURL: string; pid?: number; leader: boolean }[];
  startMs: number;
}

function textOf(error: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = error, depth = 0; at && depth < 5; at = (at as Error).cause, depth++) {
    parts.push((at as Error).message ?? String(at));
    const json = (at as { json?: unknown }).json;
    if (json) parts.push(JSON.stringify(json));
  }
  return parts.join(' ');
}

/**
 * What to do when the Docker backend failed: no daemon, or an image that could not be pulled (offline, no access
 * to the registry: the daemon's error then names a registry host and gives no hint). Undefined for other errors.
 */
export function dockerHint(error: unknown, image: string | undefined): CliError | undefined {
  const text = textOf(error);
  if (/container runtime strategy|docker\.sock|Cannot connect to the Docker daemon/i.test(text)) {
    return new CliError(
      'the Docker backend found no working Docker daemon (DOCKER_HOST, /var/run/docker.sock): start Docker, ' +
        'or use --backend process (etcd child processes). Run with --debug for the original error.',
      { cause: error },
    );
  }
  if (
    /pull|manifest|registry|no such host|dial tcp|lookup |i\/o timeout|TLS handshake|ryuk|unauthorized|repository does not exist|no such image/i.test(
      text,
    )
  ) {
    return new CliError(
      `the Docker backend could not get its images (${image ?? 'the default etcd image'}, and testcontainers' ` +
        'ryuk reaper): is this machine offline, or the registry unreachable?\n' +
        "Use --image local (builds an image from this host's etcd) and set TESTCONTAINERS_RYUK_DISABLED=true; " +
        'or use --backend process. Run with --debug for the original error.',
      { cause: error },
    );
  }
  return undefined;
}

/**
 * Fixed client ports: a proxy on `127.0.0.1:<port + i>` in front of member i, so that snippets with
 * `127.0.0.1:2379` work. (testkit picks free ports; the members keep theirs, which they advertise.)
 */
async function fixedPorts(cluster: Cluster, first: number): Promise<TcpProxy[]> {
  const proxies: TcpProxy[] = [];
  try {
    for (const [i, member] of cluster.members.entries()) {
      const target = new URL(member.clientURL);
      proxies.push(
        await TcpProxy.start({
          listenPort: first + i,
          targetPort: Number(target.port),
          targetHost: target.hostname,
        }),
      );
    }
    return proxies;
  } catch (error) {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    throw new CliError(
      `cannot listen on 127.0.0.1:${first + proxies.length} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ` +
        `--port ${first} needs ports ${first}-${first + cluster.members.length - 1} free`,
      { cause: error },
    );
  }
}

/**
 * `etcdkit cluster up`: starts a local etcd v2 cluster (fast raft timings), prints its endpoints, and keeps it
 * up until SIGINT or SIGTERM; then removes it (processes or containers, and data).
 */
export async function clusterUpCommand(
  values: ClusterUpValues,
  print: (line: string) => void,
): Promise<number> {
  const { size, backend } = values;
  if (values.port !== undefined && values.port + size - 1 > 65_535)
    throw new UsageError(`--port ${values.port} leaves no room for ${size} members`);
  if (backend === 'process' && (values.image || values.network))
    throw new UsageError('--image and --network are for --backend docker');
  const json = values.output === 'json';
  const interrupt = interrupted();
  const t0 = performance.now();
  let cluster: Cluster;
  try {
    let options: StartAnyClusterOptions = { size };
    if (backend === 'docker') {
      const image = values.image === 'local' ? await buildLocalEtcdImage() : values.image;
      options = { size, backend: 'docker', network: values.network ?? 'host', ...(image ? { image } : {}) };
    }
    cluster = await startCluster(options);
  } catch (error) {
    interrupt.dispose();
    const hint = backend === 'docker' ? dockerHint(error, values.image) : undefined;
    if (hint) throw hint;
    throw error;
  }
  let proxies: TcpProxy[] = [];
  try {
    if (values.port !== undefined) proxies = await fixedPorts(cluster, values.port);
    const leader = await cluster.waitForLeader();
    const startMs = Math.round(performance.now() - t0);
    const endpoints = proxies.length
      ? proxies.map((proxy) => `http://127.0.0.1:${proxy.port}`)
      : [...cluster.clientURLs];
    if (json) {
      const up: ClusterUpJSON = {
        version: cluster.version,
        backend: cluster.backend,
        endpoints,
        members: cluster.members.map((member) => ({
          name: member.name,
          clientURL: member.clientURL,
          ...(member.pid ? { pid: member.pid } : {}),
          leader: member === leader,
        })),
        startMs,
      };
      print(JSON.stringify(up));
    } else {
      print(`etcd ${cluster.version}: ${size}-member v2 cluster (${cluster.backend}) up in ${startMs} ms`);
      for (const [i, member] of cluster.members.entries()) {
        const where = member.pid ? `pid ${member.pid}` : cluster.backend;
        const url = proxies.length ? `${endpoints[i]} -> ${member.clientURL}` : member.clientURL;
        print(`  ${member.name}  ${url}  (${where})${member === leader ? '  leader' : ''}`);
      }
      print('');
      print(`export ETCDCTL_API=2 ETCDCTL_ENDPOINTS=${endpoints.join(',')}`);
      print('Ctrl-C to stop');
    }
    if (!interrupt.signal.aborted) {
      await new Promise((resolve) => interrupt.signal.addEventListener('abort', resolve, { once: true }));
    }
    return 0;
  } finally {
    interrupt.dispose();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await cluster.close();
    if (!json) print('cluster stopped, data removed');
  }
}
