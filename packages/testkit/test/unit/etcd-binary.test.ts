import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertSupportedVersion,
  EtcdNotFoundError,
  parseEtcdVersion,
  resolveEtcdBinary,
  startCluster,
  UnsupportedEtcdVersionError,
} from '../../src/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'etcdkit-bin-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fake `etcd` that prints the given version. */
function fakeEtcd(version: string): string {
  const path = join(scratch, `etcd-${version}`);
  writeFileSync(path, `#!/bin/sh\necho "etcd Version: ${version}"\necho "Git SHA: fake"\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('etcd version detection', () => {
  it('reads the version line of etcd --version', () => {
    expect(parseEtcdVersion('etcd Version: 3.4.23\nGit SHA: x\n')).toBe('3.4.23');
    expect(parseEtcdVersion('etcd Version: 3.5.17\n')).toBe('3.5.17');
    expect(parseEtcdVersion('hello')).toBeUndefined();
  });

  it('accepts 3.4 and 3.5 and refuses 3.3 and 3.6+', () => {
    expect(() => assertSupportedVersion('3.4.23')).not.toThrow();
    expect(() => assertSupportedVersion('3.5.0')).not.toThrow();
    expect(() => assertSupportedVersion('3.6.0')).toThrow(/no v2 API/);
    expect(() => assertSupportedVersion('4.0.0')).toThrow(UnsupportedEtcdVersionError);
    expect(() => assertSupportedVersion('3.3.27')).toThrow(/needs 3.4 or 3.5/);
  });

  it('finds the real binary and reports its version', async () => {
    const binary = await resolveEtcdBinary();
    expect(binary.version).toMatch(/^3\.[45]\./);
  });

  it('says clearly that etcd is missing', async () => {
    const missing = resolveEtcdBinary(join(scratch, 'no-such-etcd'));
    await expect(missing).rejects.toBeInstanceOf(EtcdNotFoundError);
    await expect(missing).rejects.toThrow(/apt-get install etcd-server/);
  });

  it('refuses to start a cluster on etcd 3.6, which has no v2 API', async () => {
    const start = startCluster({ size: 1, etcdBin: fakeEtcd('3.6.1') });
    await expect(start).rejects.toBeInstanceOf(UnsupportedEtcdVersionError);
    await expect(start).rejects.toThrow(/etcd 3\.6\.1, which has no v2 API/);
  });
});
