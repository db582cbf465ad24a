// The READMEs as a user meets them: the five packages packed with `npm pack`, installed from the tarballs into a
// fresh project outside the workspace, every TypeScript/JavaScript block of the READMEs type-checked there
// (strict, NodeNext) and run against a real etcd cluster, each to a clean exit on its own.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cluster, startCluster } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const packages = ['client', 'recipes', 'testkit', 'cli', 'otel'] as const;
const readmes = ['README.md', ...packages.map((name) => `packages/${name}/README.md`)];

/** What a block is written as, and how it runs. */
interface Block {
  /** README and line, for messages. */
  readonly where: string;
  readonly lang: string;
  /** Path in the project: `src/<name>.ts` (a program), `src/<name>.test.ts` (a vitest test) or `vitest.config.ts`. */
  readonly file: string;
  readonly code: string;
}

const RUNNABLE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);
const NOT_CODE = new Set(['sh', 'bash', 'shell', 'console', 'text', 'json']);

/**
 * Every fenced block of the READMEs (also indented ones, in lists). A block whose first line is a comment
 * naming a file (`// vitest.config.ts: ...`, `// keys.test.ts: ...`) is written under that name.
 */
function readmeBlocks(): Block[] {
  const blocks: Block[] = [];
  for (const readme of readmes) {
    const text = readFileSync(join(root, readme), 'utf8');
    const fence = /^( *)```(\S*)\n([\s\S]*?)^\1```\s*$/gm;
    for (const match of text.matchAll(fence)) {
      const [, indent = '', lang = '', body = ''] = match;
      const line = text.slice(0, match.index).split('\n').length;
      const where = `${readme}:${line}`;
      if (NOT_CODE.has(lang)) continue;
      if (!RUNNABLE.has(lang)) throw new Error(`${where}: a code block in an unknown language '${lang}'`);
      const code = body
        .split('\n')
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join('\n');
      const ext = lang === 'ts' || lang === 'typescript' ? 'ts' : 'js';
      const named = /^\/\/ ([\w.-]+\.(?:ts|js|mjs))\b/.exec(code)?.[1];
      const slug = readme === 'README.md' ? 'root' : readme.split('/')[1];
      const file =
        named === undefined
          ? `src/${slug}-readme-line-${line}.${ext}`
          : named.startsWith('vitest.config.')
            ? named
            : `src/${named}`;
      if (blocks.some((b) => b.file === file)) throw new Error(`${where}: a second block named ${file}`);
      blocks.push({ where, lang, file, code });
    }
  }
  return blocks;
}

/** The version of a root devDependency as the lockfile installed it, so the npm cache has it. */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (version === undefined) throw new Error(`${name} is not in the root lockfile`);
  return version;
}

/**
 * The environment for npm and vitest in the scratch project: without the `npm_*` variables of the npm run that
 * started this test (a workspace or prefix setting would point npm back into the monorepo) but with the cache
 * and registry settings, and without the variables of the vitest running this file.
 */
function projectEnv(): NodeJS.ProcessEnv {
  const keep =
    /^npm_config_(cache|registry|userconfig|globalconfig|proxy|https_proxy|noproxy|cafile|strict_ssl)$/i;
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => (!/^npm_/i.test(key) || keep.test(key)) && !/^VITEST/.test(key),
    ),
  );
}

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** stdout, stderr and how it failed, for messages. */
  readonly output: string;
}

/**
 * Runs a command to its end, or SIGKILLs it (by its pid, through execFile) after `timeoutMs`. Never rejects:
 * the caller asserts on the exit code and shows the output.
 */
function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        resolve({
          code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
          output: `${stdout}${stderr}${failure && typeof failure.code !== 'number' ? `\n${failure.message}` : ''}`,
        });
      },
    );
  });
}

function expectSuccess(what: string, result: Run): void {
  expect(
    { code: result.code, signal: result.signal },
    `${what} failed (exit ${result.code}, signal ${result.signal}):\n${result.output}`,
  ).toEqual({ code: 0, signal: null });
}

// A block that starts its own cluster takes about a second; the bound is for a loaded 2-core machine.
const BLOCK_TIMEOUT_MS = 90_000;

describe('README code blocks, from npm pack tarballs in a fresh project', () => {
  const blocks = readmeBlocks();
  const programs = blocks.filter((b) => b.file.startsWith('src/') && !/\.test\.[jt]s$/.test(b.file));
  const vitestFiles = blocks.filter((b) => !programs.includes(b));
  let scratch = '';
  let project = '';
  let cluster: Cluster | undefined;
  let compiled: Run = { code: null, signal: null, stdout: '', output: 'not compiled' };

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'etcdkit-readme-'));
    project = join(scratch, 'project');
    const tarballs = join(scratch, 'tarballs');
    mkdirSync(join(project, 'src'), { recursive: true });
    mkdirSync(tarballs);

    const workspaces = packages.flatMap((name) => ['-w', `@etcdkit/${name}`]);
    const packed = await run('npm', ['pack', ...workspaces, '--pack-destination', tarballs, '--json'], {
      cwd: root,
      env: projectEnv(),
      timeoutMs: 120_000,
    });
    expectSuccess('npm pack', packed);
    const files = (JSON.parse(packed.stdout) as { filename: string }[]).map((p) =>
      join(tarballs, p.filename),
    );
    expect(files).toHaveLength(packages.length);

    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'etcdkit-readme-check', private: true, type: 'module' }, null, 2)}\n`,
    );
    // @etcdkit/otel's peer @opentelemetry/api, and the SDK its README sets up.
    const tools = [
      'typescript',
      '@types/node',
      'vitest',
      '@opentelemetry/api',
      '@opentelemetry/context-async-hooks',
      '@opentelemetry/sdk-metrics',
      '@opentelemetry/sdk-trace-base',
    ].map((name) => `${name}@${lockedVersion(name)}`);
    const installed = await run(
      'npm',
      // A registry request that hangs is retried after 30 s instead of npm's 5 min (seen once in CI: the whole
      // install outlived its bound); the http log says which request it was if it happens again.
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--fetch-timeout=30000',
        '--fetch-retries=3',
        '--loglevel=http',
        ...files,
        ...tools,
      ],
      { cwd: project, env: projectEnv(), timeoutMs: 240_000 },
    );
    expectSuccess('npm install of the tarballs', installed);

    writeFileSync(
      join(project, 'tsconfig.json'),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023', 'ESNext.Disposable'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            allowJs: true,
            checkJs: true,
            types: ['node'],
            rootDir: '.',
            outDir: 'build',
          },
          include: ['src', 'vitest.config.ts'],
        },
        null,
        2,
      )}\n`,
    );
    for (const block of blocks) writeFileSync(join(project, block.file), block.code);
    // Type-checks and compiles every block (Node 20 cannot run TypeScript itself); a test below asserts it.
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], {
      cwd: project,
      timeoutMs: 180_000,
    });

    cluster = await startCluster({ size: 3 });
  }, 480_000);

  afterAll(async () => {
    await cluster?.close();
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it('finds the blocks', () => {
    expect(programs.length).toBeGreaterThanOrEqual(5);
    expect(vitestFiles.map((b) => b.file)).toContain('vitest.config.ts');
  });

  it('installs packages with a LICENSE, their metadata, source maps that resolve and no @internal types', () => {
    for (const name of packages) {
      const dir = join(project, 'node_modules', '@etcdkit', name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toContain('Apache License');
      expect(manifest, name).toMatchObject({
        license: 'Apache-2.0',
        repository: { type: 'git', directory: `packages/${name}` },
        publishConfig: { access: 'public' },
      });
      expect(Object.keys(manifest), name).toEqual(
        expect.arrayContaining(['homepage', 'bugs', 'keywords', 'engines']),
      );
      const files = readdirSync(dir, { recursive: true, encoding: 'utf8' });
      for (const file of files.filter((f) => f.endsWith('.map'))) {
        const { sources } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { sources: string[] };
        for (const source of sources)
          expect(existsSync(join(dir, dirname(file), source)), `${name}/${file}: ${source}`).toBe(true);
      }
      for (const file of files.filter((f) => f.endsWith('.d.ts'))) {
        expect(readFileSync(join(dir, file), 'utf8'), `${name}/${file}`).not.toContain('@internal');
      }
    }
  });

  it('installs a working etcdkit command, with the cluster up --port the READMEs use', async () => {
    const bin = join(project, 'node_modules', '@etcdkit', 'cli', 'bin', 'etcdkit.js');
    const result = await run(process.execPath, [bin, 'cluster', 'up', '--help'], {
      cwd: project,
      timeoutMs: 60_000,
    });
    expectSuccess('etcdkit cluster up --help', result);
    expect(result.output).toContain('--port');
  }, 90_000);

  it('type-checks every block under strict + NodeNext, against the published types', () => {
    const where = blocks.map((b) => `${b.file} is ${b.where}`).join('\n');
    expectSuccess(`tsc (${where})`, compiled);
  });

  it.each(programs.map((b) => [b.where, b] as const))(
    'runs %s to a clean exit',
    async (_where, block) => {
      const js = join('build', block.file.replace(/\.ts$/, '.js'));
      const result = await run(process.execPath, [js], {
        cwd: project,
        env: { ...process.env, ETCDCTL_ENDPOINTS: cluster?.clientURLs.join(',') },
        timeoutMs: BLOCK_TIMEOUT_MS,
      });
      expectSuccess(`${block.where} (${block.file})`, result);
    },
    BLOCK_TIMEOUT_MS + 30_000,
  );

  it('runs the vitest blocks with vitest in the project', async () => {
    const vitest = join(project, 'node_modules', 'vitest', 'vitest.mjs');
    const report = join(scratch, 'vitest-results.json');
    const result = await run(
      process.execPath,
      [vitest, 'run', '--dir', 'src', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
      { cwd: project, env: { ...projectEnv(), NO_COLOR: '1' }, timeoutMs: 180_000 },
    );
    expectSuccess(`vitest in the project (${vitestFiles.map((b) => b.where).join(', ')})`, result);
    const results = JSON.parse(readFileSync(report, 'utf8')) as {
      numFailedTests: number;
      numPassedTests: number;
      testResults: { name: string }[];
    };
    const testFiles = vitestFiles
      .filter((b) => /\.test\.[jt]s$/.test(b.file))
      .map((b) => join(project, b.file));
    expect(results.testResults.map((r) => r.name).sort()).toEqual(testFiles.sort());
    expect(results.numFailedTests).toBe(0);
    expect(results.numPassedTests).toBeGreaterThanOrEqual(testFiles.length);
  }, 240_000);
});
