import { ClusterStartError } from '../errors.js';
import { assertSupportedVersion, parseEtcdVersion } from '../etcd-binary.js';
import { demuxLogs } from './container-launcher.js';
import { ETCD_PATH_IN_IMAGE } from './image.js';
import { loadTestcontainers } from './runtime.js';
import { ownLabels } from './sweep.js';

const checked = new Map<string, Promise<string>>();

/**
 * The etcd version of `image`, read once per image and process from a one-shot `etcd --version` container.
 * @throws {UnsupportedEtcdVersionError} for etcd 3.6 and later (no v2 API) or before 3.4.
 */
export function imageEtcdVersion(image: string): Promise<string> {
  let version = checked.get(image);
  if (!version) {
    version = readVersion(image);
    checked.set(image, version);
    version.catch(() => checked.delete(image));
  }
  return version;
}

async function readVersion(image: string): Promise<string> {
  const { getContainerRuntimeClient, ImageName } = await loadTestcontainers();
  const client = await getContainerRuntimeClient();
  const docker = client.container.dockerode;
  if (!(await client.image.exists(ImageName.fromString(image))))
    await client.image.pull(ImageName.fromString(image));
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: [ETCD_PATH_IN_IMAGE],
    Cmd: ['--version'],
    Labels: ownLabels(),
  });
  let output: string;
  try {
    await container.start();
    await container.wait();
    output = demuxLogs(
      (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer,
    );
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
  const version = parseEtcdVersion(output);
  if (!version) throw new ClusterStartError(`${image}: \`etcd --version\` printed no version:\n${output}`);
  assertSupportedVersion(version, image);
  return version;
}
