// `npm run bench`: runs the client, otel, recipes and testkit benchmarks one after another (never in parallel: the
// machine is small and noisy) and writes one markdown report, bench-report.md, with every figure as a ratio to
// a baseline measured in the same run, and the machine it ran on. BENCH_REPORT=<file> writes elsewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, freemem, release, totalmem, type } from 'node:os';

const packages = ['@etcdkit/client', '@etcdkit/otel', '@etcdkit/recipes', '@etcdkit/testkit'];
const out = process.env.BENCH_REPORT ?? 'bench-report.md';

function version(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return 'not found';
  }
}

const etcdBin = process.env.ETCD_BIN ?? 'etcd';
const machine = [
  `- when: ${new Date().toISOString()}`,
  `- os: ${type()} ${release()}`,
  `- cpu: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
  `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`,
  `- node: ${process.version}`,
  `- etcd: ${version(etcdBin, ['--version'])}`,
  `- docker: ${version('docker', ['version', '--format', 'engine {{.Server.Version}}'])}`,
];

const sections = [];
let failed = false;
for (const pkg of packages) {
  console.error(`running the ${pkg} benchmark...`);
  const t0 = performance.now();
  const run = spawnSync('npm', ['run', '--silent', 'bench', '-w', pkg], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TESTCONTAINERS_RYUK_DISABLED: process.env.TESTCONTAINERS_RYUK_DISABLED ?? 'true' },
  });
  const seconds = ((performance.now() - t0) / 1000).toFixed(0);
  if (run.status !== 0) {
    failed = true;
    sections.push(`## ${pkg}\n\nThe benchmark failed (exit ${run.status}) after ${seconds} s.\n`);
  } else {
    sections.push(`${run.stdout.trim()}\n\n_(${seconds} s)_\n`);
  }
}

const report = [
  '# etcdkit benchmark report',
  '',
  'Every figure is compared with a baseline measured in the same run on the same machine: raw undici for the',
  'client, one etcd write + watch notification for lock handoff, the TTL or the election timeout for failover.',
  '',
  '## Machine',
  '',
  ...machine,
  '',
  ...sections,
].join('\n');
writeFileSync(out, report);
console.log(report);
console.error(`\nwritten to ${out}`);
process.exit(failed ? 1 : 0);
