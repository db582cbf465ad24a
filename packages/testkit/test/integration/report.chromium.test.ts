/**
 * The HTML history report in a real browser: rendered by headless Chromium (Debian's `chromium`, installed by
 * scripts/install-test-tools.sh), whose DOM after its scripts ran must show every process row, operation mark,
 * lock overlap, fault band and highlighted counterexample operation, with the history's markup as text only.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkKvLinearizability, type KvOperation, writeHistoryReport } from '../../src/index.js';
import { faults, holds, staleRead, T } from '../report-history.js';

const EVIL = '<script>alert(1)</script>';
const PWN = `<img src=x onerror="document.documentElement.dataset.pwned='1'"><script>document.documentElement.dataset.pwned='2'</script>`;

/** A stale read of EVIL (not linearizable, see `report-history.ts`), and operations of this test's own. */
const ops: KvOperation[] = [
  ...staleRead(EVIL),
  {
    process: 'p1',
    start: T + 15,
    end: T + 35,
    input: { type: 'update', key: '/z', value: PWN },
    output: { status: 'not-found' },
  },
  {
    process: 'p2',
    start: T + 35,
    end: T + 80,
    input: { type: 'set', key: '/y', value: 'w' },
    detail: 'timeout',
  },
  {
    process: PWN,
    start: T + 55,
    end: T + 70,
    input: { type: 'get', key: '/z' },
    output: { status: 'not-found' },
  },
];
const result = checkKvLinearizability(ops);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etcdkit-report-chromium-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs headless Chromium on `file` with `args`; resolves to its stdout. Killed (its process group) after 60 s. */
async function chromium(file: string, args: string[]): Promise<string> {
  const profile = await mkdtemp(join(dir, 'profile-'));
  const child = spawn(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      ...args,
      pathToFileURL(file).href,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`chromium exited with ${code}: ${Buffer.concat(err).toString()}`);
    return Buffer.concat(out).toString();
  } finally {
    clearTimeout(timer);
    try {
      process.kill(-child.pid!, 'SIGKILL'); // whatever of its process group is left
    } catch {}
  }
}

const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0;

it('renders in headless Chromium: rows, marks, bands, highlights, and data as text only', async () => {
  expect(result.ok === false && result.key).toBe(EVIL);
  const file = join(dir, 'report.html');
  await writeHistoryReport(file, {
    title: 'stale read',
    operations: ops,
    holds,
    faults,
    linearizability: result,
  });
  const dom = await chromium(file, ['--dump-dom']);
  // Its own script ran (the CSP allows it by hash); none of the history's did.
  expect(dom).toMatch(/<html lang="en" data-ready="true">/);
  expect(dom).not.toMatch(/data-pwned/);
  expect(count(dom, /<script/g)).toBe(1);
  expect(count(dom, /<img/g)).toBe(0);
  const timeline = dom.slice(
    dom.indexOf('<svg class="timeline"'),
    dom.indexOf('</svg>', dom.indexOf('<svg class="timeline"')),
  );
  expect(count(timeline, /<g class="row process" data-process="[^"]*"/g)).toBe(4);
  expect(count(timeline, /<rect class="op /g)).toBe(ops.length);
  expect(count(timeline, /<rect class="fault-band" data-fault="kill"/g)).toBe(1);
  expect(count(timeline, /<rect class="overlap"/g)).toBe(1);
  expect(count(timeline, /<g class="hold overlapping">/g)).toBe(2);
  const cx = result.ok === false ? result.counterexample.ops : [];
  expect(cx.length).toBe(2);
  const highlighted = timeline.match(/<rect class="op [^"]* cx"[^>]*><title>[^<]*/g) ?? [];
  expect(highlighted.length).toBe(cx.length);
  expect(highlighted.join('\n')).toContain('set &lt;script&gt;alert(1)&lt;/script&gt; := "b"');
  expect(highlighted.join('\n')).toContain('get &lt;script&gt;alert(1)&lt;/script&gt;  =&gt;  ok "a" @5');
  // The key shows as text in the counterexample's printout, and the process name as a row label.
  expect(dom).toMatch(
    /<pre class="counterexample">key &lt;script&gt;alert\(1\)&lt;\/script&gt;: not linearizable/,
  );
  expect(dom).toContain('data-process="&lt;img src=x onerror=');
}, 90_000);

it('takes a screenshot of it', async () => {
  const file = join(dir, 'shot.html');
  await writeHistoryReport(file, { operations: ops, holds, faults, linearizability: result });
  const png = join(dir, 'shot.png');
  await chromium(file, [`--screenshot=${png}`, '--window-size=1400,900']);
  const bytes = await readFile(png);
  expect(bytes.subarray(1, 4).toString()).toBe('PNG');
  expect((await stat(png)).size).toBeGreaterThan(10_000);
}, 90_000);
