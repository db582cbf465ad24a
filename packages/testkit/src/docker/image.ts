import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveEtcdBinary } from '../etcd-binary.js';
import { loadTestcontainers } from './runtime.js';

/**
 * The image the Docker backend runs by default: upstream etcd, pinned here and only here. 3.5 is the last
 * line that serves the v2 API (with `--enable-v2=true`, which testkit passes).
 */
export const DEFAULT_ETCD_IMAGE = 'gcr.io/etcd-development/etcd:v3.5.17';

/** Where etcd is in the image (the same in upstream images and in {@link buildLocalEtcdImage}'s). */
export const ETCD_PATH_IN_IMAGE = '/usr/local/bin/etcd';

/** The shared libraries a dynamically linked binary loads, as `ldd` lists them (none for a static one). */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ldd', [binary]).catch(() => ({ stdout: '' }));
  const libraries: string[] = [];
  for (const line of stdout.split('\n')) {
    const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (path) libraries.push(path);
  }
  return libraries;
}

/**
 * Builds an etcd image FROM scratch out of the host's etcd binary and the shared libraries it links
 * (libc.so.6 and ld-linux-x86-64.so.2 for Debian's), for machines that cannot pull images. The image has no
 * shell. Resolves to its tag, `etcdkit/etcd-local:<version>` by default; an existing image of that tag is
 * rebuilt (layers are cached, so this takes a second or two).
 */
export async function buildLocalEtcdImage(options: { etcdBin?: string; tag?: string } = {}): Promise<string> {
  const binary = await resolveEtcdBinary(options.etcdBin);
  const tag = options.tag ?? `etcdkit/etcd-local:${binary.version}`;
  const context = mkdtempSync(join(tmpdir(), 'etcdkit-image-'));
  try {
    const lines = ['FROM scratch'];
    copyFileSync(binary.path, join(context, 'etcd'));
    lines.push(`COPY etcd ${ETCD_PATH_IN_IMAGE}`);
    for (const [i, library] of (await sharedLibraries(binary.path)).entries()) {
      const name = `lib${i}`;
      copyFileSync(library, join(context, name));
      lines.push(`COPY ${name} ${library}`);
    }
    lines.push(`ENTRYPOINT ["${ETCD_PATH_IN_IMAGE}"]`);
    writeFileSync(join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
    const { GenericContainer } = await loadTestcontainers();
    await GenericContainer.fromDockerfile(context).build(tag, { deleteOnExit: false });
    return tag;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
