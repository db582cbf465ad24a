import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTestcontainers } from '../../src/docker/runtime.js';
import { TestcontainersLoadError, TestcontainersMissingError, TestkitError } from '../../src/index.js';

// Imports from scratch projects outside the workspace (whose node_modules has testcontainers): one without
// testcontainers, and ones with a testcontainers that fails to load in different ways.
const scratch = mkdtempSync(join(tmpdir(), 'etcdkit-tc-load-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Importer = Parameters<typeof loadTestcontainers>[0];

/** A project at `scratch/<name>` whose `node_modules/testcontainers/index.js` is `source`. */
async function importerIn(name: string, source: string): Promise<Importer> {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const pkg = join(dir, 'node_modules', 'testcontainers');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'testcontainers', version: '12.0.0', type: 'module', main: 'index.js' }),
  );
  writeFileSync(join(pkg, 'index.js'), source);
  writeFileSync(join(dir, 'load.mjs'), "export const load = () => import('testcontainers');\n");
  const { load } = (await import(pathToFileURL(join(dir, 'load.mjs')).href)) as {
    load: NonNullable<Importer>;
  };
  return load;
}

/**
 * The error plain Node.js gives for `import('testcontainers')` in a project without it. Taken from a child
 * process: inside vitest, imports resolve through Vite, which finds the workspace's copy.
 */
function nodeImportError(): Error {
  const dir = join(scratch, 'missing');
  mkdirSync(dir, { recursive: true });
  const script =
    "import('testcontainers').then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))";
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    encoding: 'utf8',
  });
  const { code, message } = JSON.parse(out) as { code?: string; message?: string };
  if (code === undefined || message === undefined) throw new Error(`testcontainers was found from ${dir}`);
  return Object.assign(new Error(message), { code });
}

describe('loadTestcontainers', () => {
  it('returns the module when it loads', async () => {
    const module = await loadTestcontainers();
    expect(typeof module.GenericContainer).toBe('function');
  });

  it('says how to install it when testcontainers is not installed', async () => {
    const error = await loadTestcontainers(() => Promise.reject(nodeImportError())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestcontainersMissingError);
    expect(error).toBeInstanceOf(TestkitError);
    const missing = error as TestcontainersMissingError;
    expect(missing.code).toBe('ETCDKIT_TESTCONTAINERS_MISSING');
    expect(missing.message).toContain('npm install --save-dev testcontainers@11');
    expect((missing.cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('reports an installed testcontainers that throws while loading, with the cause', async () => {
    const importer = await importerIn(
      'throws',
      "throw new TypeError('webidl.util.markAsUncloneable is not a function');\n",
    );
    const error = await loadTestcontainers(importer).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestcontainersLoadError);
    const failed = error as TestcontainersLoadError;
    expect(failed.code).toBe('ETCDKIT_TESTCONTAINERS_LOAD');
    expect(failed.message).toContain('installed but failed to load');
    expect(failed.message).toContain('TypeError: webidl.util.markAsUncloneable is not a function');
    expect(failed.message).not.toContain('npm install');
    expect(failed.cause).toBeInstanceOf(TypeError);
  });

  it('reports a missing dependency of testcontainers as a failed load, not as testcontainers missing', async () => {
    const importer = await importerIn('broken', "export * from 'dockerode-not-installed';\n");
    const error = await loadTestcontainers(importer).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestcontainersLoadError);
    expect((error as Error).message).toContain("Cannot find package 'dockerode-not-installed'");
    expect(((error as Error).cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('reports a non-Error rejection as a failed load', async () => {
    const error = await loadTestcontainers(() => Promise.reject('nope')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestcontainersLoadError);
    expect((error as Error).message).toMatch(/: nope$/);
    expect((error as Error).cause).toBe('nope');
  });
});
