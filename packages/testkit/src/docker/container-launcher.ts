import { execFileSync } from 'node:child_process';
import type Dockerode from 'dockerode';
import { ClusterStartError, MemberStateError } from '../errors.js';
import { forgetContainer, reapContainer } from '../internal/reaper.js';
import type { EtcdLauncher } from '../launchers/launcher.js';
import { tailOfLog } from '../launchers/process-launcher.js';
import { ETCD_PATH_IN_IMAGE } from './image.js';
import { loadTestcontainers } from './runtime.js';

/** How a member's container is made. */
export interface ContainerSpec {
  readonly image: string;
  /**
   * Container name (unique per cluster: `<token>-<member>`); also its name on a bridge network, where the
   * container has one interface (`eth0`), on that network only.
   */
  readonly name: string;
  readonly labels: Record<string, string>;
  /** `host`, or a user-defined bridge network's name. */
  readonly networkMode: string;
  /** Published ports (bridge networks): container port to a host port on 127.0.0.1. */
  readonly ports?: readonly { readonly container: number; readonly host: number }[];
  /** Files copied into the container before it starts (TLS material). */
  readonly files?: readonly { readonly source: string; readonly target: string }[];
  /** etcd's data dir in the container. */
  readonly dataDir: string;
}

/**
 * Publishes `ports` on 127.0.0.1 only. testcontainers' `withExposedPorts` publishes on every interface, and
 * waits for the ports to be bound, which never happens when etcd exits at once (a bad flag): the error would
 * then be a timeout instead of etcd's own message. So the bindings go straight into the create options.
 */
function publishOnLoopback(definition: object, ports: NonNullable<ContainerSpec['ports']>): void {
  const internals = definition as {
    createOpts: Dockerode.ContainerCreateOptions;
    hostConfig: Dockerode.HostConfig;
  };
  internals.createOpts.ExposedPorts = Object.fromEntries(ports.map((p) => [`${p.container}/tcp`, {}]));
  internals.hostConfig.PortBindings = Object.fromEntries(
    ports.map((p) => [`${p.container}/tcp`, [{ HostIp: '127.0.0.1', HostPort: String(p.host) }]]),
  );
}

/** Docker's multiplexed log stream (8-byte frame headers) as text. */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length && buffer[offset]! <= 2 && buffer.readUInt16BE(offset + 1) === 0) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return parts.length ? Buffer.concat(parts).toString() : buffer.toString();
}

/**
 * Runs etcd in a container, made with testcontainers and then driven with the container runtime's own
 * calls (dockerode): SIGKILL/SIGTERM, pause/unpause (the cgroup freezer), start again on the container's own
 * filesystem (data kept). Removing the container wipes the data; the next start makes a new one.
 */
export class ContainerLauncher implements EtcdLauncher {
  readonly kind = 'container';
  readonly #spec: ContainerSpec;
  #container: Dockerode.Container | undefined;
  #pid: number | undefined;
  #address: string | undefined;
  #running = false;
  #paused = false;
  #exited: Promise<void> = Promise.resolve();

  constructor(spec: ContainerSpec) {
    this.#spec = spec;
  }

  /** The container's id, while one exists. */
  get containerId(): string | undefined {
    return this.#container?.id;
  }

  get pid(): number | undefined {
    return this.#running ? this.#pid : undefined;
  }

  /** The container's IPv4 address on its bridge network, as the engine reported it at the last start. */
  get address(): string | undefined {
    return this.#address;
  }

  get running(): boolean {
    return this.#running;
  }

  get exited(): Promise<void> {
    return this.#exited;
  }

  /**
   * Creates and starts the container with `args`, or starts the existing one again (its data and its first
   * flags kept: etcd ignores the initial-cluster flags once it has data).
   */
  async start(args: readonly string[]): Promise<void> {
    if (this.#container) await this.#container.start();
    else this.#container = await this.#create(args);
    const container = this.#container;
    const info = await container.inspect();
    this.#pid = info.State.Pid || undefined;
    this.#address = info.NetworkSettings.Networks[this.#spec.networkMode]?.IPAddress || undefined;
    this.#running = info.State.Running;
    this.#paused = false;
    // wait() resolves when this run of the container ends
    this.#exited = container.wait().then(
      () => this.#ended(container),
      () => this.#ended(container),
    );
  }

  async signal(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const container = this.#container;
    if (!container || !this.#running) return;
    // Docker refuses to signal a paused container: thaw it first (SIGKILL lands right after).
    if (this.#paused) await container.unpause().catch(() => {});
    this.#paused = false;
    await container.kill({ signal }).catch((error: unknown) => {
      if (!/is not running|No such container/i.test(String(error))) throw error;
    });
  }

  async pause(): Promise<void> {
    await this.#must('pause').pause();
    this.#paused = true;
  }

  async resume(): Promise<void> {
    if (!this.#paused) return;
    await this.#must('resume').unpause();
    this.#paused = false;
  }

  /** Removes the container, and with it the data; the next {@link start} makes a new one. */
  async wipe(): Promise<void> {
    const container = this.#container;
    if (!container) return;
    if (this.#running) throw new MemberStateError(`cannot wipe ${this.#spec.name}: it is running`);
    this.#container = undefined;
    await container.remove({ force: true, v: true }).catch(() => {});
    forgetContainer(container.id);
  }

  async logTail(): Promise<string> {
    if (!this.#container) return '';
    try {
      const logs = (await this.#container.logs({
        stdout: true,
        stderr: true,
        follow: false,
      })) as unknown as Buffer;
      return tailOfLog(demuxLogs(logs));
    } catch {
      return '';
    }
  }

  async dispose(): Promise<void> {
    const container = this.#container;
    if (!container) return;
    this.#container = undefined;
    await container.remove({ force: true, v: true }).catch((error: unknown) => {
      if (!/No such container|404/.test(String(error))) throw error;
    });
    forgetContainer(container.id);
    this.#running = false;
  }

  disposeSync(): void {
    const id = this.#container?.id;
    if (!id) return;
    try {
      execFileSync('docker', ['rm', '-f', '-v', id], { stdio: 'ignore' });
    } catch {
      // the reaper and the next sweep remove it
    }
  }

  async #create(args: readonly string[]): Promise<Dockerode.Container> {
    const { GenericContainer, Wait, getContainerRuntimeClient } = await loadTestcontainers();
    const spec = this.#spec;
    let definition = new GenericContainer(spec.image)
      .withName(spec.name)
      .withLabels(spec.labels)
      .withEntrypoint([ETCD_PATH_IN_IMAGE])
      .withCommand([...args, `--data-dir=${spec.dataDir}`])
      .withNetworkMode(spec.networkMode)
      // etcd's first log line: readiness is the cluster's to judge (members wait for a quorum), and the
      // image may have no shell for testcontainers' port checks.
      .withWaitStrategy(Wait.forLogMessage(/./))
      .withStartupTimeout(20_000);
    // No network aliases: with them testcontainers creates the container on Docker's default bridge and then
    // connects it to the network, so it would have two interfaces (and its published ports the default one).
    // On a user-defined network the container's name resolves without an alias.
    if (spec.ports?.length) publishOnLoopback(definition, spec.ports);
    if (spec.files?.length) definition = definition.withCopyFilesToContainer([...spec.files]);
    const docker = (await getContainerRuntimeClient()).container;
    let id: string;
    try {
      id = (await definition.start()).getId();
    } catch (error) {
      // etcd exited before testcontainers saw it start (a bad flag): keep the container, so that its log
      // explains the failure and close() removes it.
      const [info] = await docker.dockerode.listContainers({
        all: true,
        filters: JSON.stringify({ name: [`^/${spec.name}$`] }),
      });
      if (!info) throw error;
      this.#container = docker.getById(info.Id);
      reapContainer(info.Id);
      throw new ClusterStartError(
        `${spec.name} did not start: ${(error as Error).message}\n${await this.logTail()}`,
      );
    }
    reapContainer(id);
    return docker.getById(id);
  }

  #ended(container: Dockerode.Container): void {
    if (this.#container === container || !this.#container) {
      this.#running = false;
      this.#paused = false;
    }
  }

  #must(action: string): Dockerode.Container {
    if (!this.#container || !this.#running)
      throw new MemberStateError(`cannot ${action} ${this.#spec.name}: it is not running`);
    return this.#container;
  }
}
