import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { EtcdNotFoundError, UnsupportedEtcdVersionError } from './errors.js';

const execFileAsync = promisify(execFile);

/** How to get a supported etcd, shown in every "missing or unsupported" error. */
export const ETCD_INSTALL_HINT =
  'Install etcd 3.4 or 3.5 (Debian/Ubuntu: `apt-get install etcd-server`; elsewhere the v3.4/v3.5 release ' +
  'archive from github.com/etcd-io/etcd/releases), or point ETCD_BIN at such a binary. ' +
  '`npm run setup` does this for you where apt and root are available.';

/** A resolved, version-checked etcd binary. */
export interface EtcdBinary {
  /** Absolute path of the binary. */
  readonly path: string;
  /** The version it reports, e.g. `3.4.23`. */
  readonly version: string;
}

const checked = new Map<string, Promise<EtcdBinary>>();

/**
 * Finds the etcd binary (`explicitPath`, else `ETCD_BIN`, else `etcd` on PATH) and checks that it serves the v2
 * API: 3.4 and 3.5 do; older ones are unsupported and 3.6 removed v2. The result is cached per path.
 *
 * @throws {EtcdNotFoundError} when there is no executable binary.
 * @throws {UnsupportedEtcdVersionError} when its version is < 3.4 or >= 3.6.
 */
export function resolveEtcdBinary(explicitPath?: string): Promise<EtcdBinary> {
  const wanted = explicitPath ?? process.env.ETCD_BIN ?? 'etcd';
  let result = checked.get(wanted);
  if (!result) {
    result = locate(wanted).then(checkVersion);
    checked.set(wanted, result);
    result.catch(() => checked.delete(wanted));
  }
  return result;
}

async function locate(wanted: string): Promise<string> {
  const candidates =
    isAbsolute(wanted) || wanted.includes('/')
      ? [wanted]
      : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir || '.', wanted));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new EtcdNotFoundError(`etcd binary not found (looked for "${wanted}"). ${ETCD_INSTALL_HINT}`);
}

async function checkVersion(path: string): Promise<EtcdBinary> {
  const { stdout } = await execFileAsync(path, ['--version'], { timeout: 10_000 });
  const version = parseEtcdVersion(stdout);
  if (!version) {
    throw new UnsupportedEtcdVersionError(
      `${path} did not report an etcd version (got ${JSON.stringify(stdout.slice(0, 200))}). ${ETCD_INSTALL_HINT}`,
      '',
    );
  }
  assertSupportedVersion(version, path);
  return { path, version };
}

/** Reads the version out of `etcd --version` output (`etcd Version: 3.4.23`). */
export function parseEtcdVersion(output: string): string | undefined {
  return /etcd Version:\s*v?(\d+\.\d+\.\d+\S*)/i.exec(output)?.[1];
}

/**
 * Throws unless `version` serves the v2 API (>= 3.4 and < 3.6).
 *
 * @throws {UnsupportedEtcdVersionError}
 */
export function assertSupportedVersion(version: string, path = 'etcd'): void {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  if (major > 3 || (major === 3 && minor >= 6)) {
    throw new UnsupportedEtcdVersionError(
      `${path} is etcd ${version}, which has no v2 API (removed in 3.6). ${ETCD_INSTALL_HINT}`,
      version,
    );
  }
  if (major < 3 || (major === 3 && minor < 4)) {
    throw new UnsupportedEtcdVersionError(
      `${path} is etcd ${version}; etcdkit needs 3.4 or 3.5 with --enable-v2. ${ETCD_INSTALL_HINT}`,
      version,
    );
  }
}
