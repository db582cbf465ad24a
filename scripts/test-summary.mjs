// Sums vitest JSON results into closing lines.
//   --collect <label>: reads every workspace's test-results.json, moves them to .test-results/<label>/, and prints
//     "<label>: N passed, N failed, N skipped". A workspace with a test script that wrote no results, or ran no
//     test, is a problem.
//   --total: sums every collected label and prints "tests: N passed, N failed, N skipped", after naming each failed
//     test with the first lines of its failure (a CI log that keeps only its end still says what failed).
// Exits non-zero on any failed or skipped test, and on any problem.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const ROOT = '.test-results';
const [mode, label] = process.argv.slice(2);

function line(name, t) {
  return `${name}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
}

/** Each failed test of one vitest JSON report: its file, its full name and the first lines of its failure. */
function failures(results, pkg) {
  const found = [];
  for (const file of results.testResults ?? []) {
    const where = file.name ? file.name.slice(file.name.indexOf(pkg)) : pkg;
    for (const test of file.assertionResults ?? []) {
      if (test.status !== 'failed') continue;
      const message = (test.failureMessages ?? []).join('\n').split('\n').slice(0, 6).join('\n    ');
      found.push(`${where} > ${test.fullName}\n    ${message}`);
    }
    // A file that failed before its tests ran (an import error, a failed hook) has no failed test to name.
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed')) {
      found.push(
        `${where}: ${String(file.message ?? 'failed')
          .split('\n')
          .slice(0, 6)
          .join('\n    ')}`,
      );
    }
  }
  return found;
}

function collect(name) {
  const out = `${ROOT}/${name}`;
  mkdirSync(out, { recursive: true });
  const t = { passed: 0, failed: 0, skipped: 0, problems: 0, failures: [] };
  const workspaces = [...readdirSync('packages').map((pkg) => `packages/${pkg}`), 'examples'];
  for (const pkg of workspaces) {
    const manifest = JSON.parse(readFileSync(`${pkg}/package.json`, 'utf8'));
    if (!manifest.scripts?.test) continue;
    const file = `${pkg}/test-results.json`;
    if (!existsSync(file)) {
      console.error(`error: ${pkg} has a test script but wrote no ${file} (on ${name})`);
      t.problems++;
      continue;
    }
    const results = JSON.parse(readFileSync(file, 'utf8'));
    t.passed += results.numPassedTests;
    t.failed += results.numFailedTests;
    t.skipped += results.numPendingTests + (results.numTodoTests ?? 0);
    t.failures.push(...failures(results, pkg));
    if (results.numTotalTests === 0) {
      console.error(`error: ${pkg} ran no test (on ${name})`);
      t.problems++;
    }
    renameSync(file, `${out}/${pkg.replaceAll('/', '-')}.json`);
  }
  writeFileSync(`${out}/summary.json`, JSON.stringify(t));
  console.log(line(name, t));
  return t;
}

function total() {
  const t = { passed: 0, failed: 0, skipped: 0, problems: 0 };
  const failed = [];
  const labels = existsSync(ROOT) ? readdirSync(ROOT) : [];
  for (const name of labels) {
    const file = `${ROOT}/${name}/summary.json`;
    if (!existsSync(file)) {
      t.problems++;
      continue;
    }
    const s = JSON.parse(readFileSync(file, 'utf8'));
    for (const k of Object.keys(t)) t[k] += s[k];
    for (const f of s.failures ?? []) failed.push(`[${name}] ${f}`);
  }
  if (failed.length > 0) console.log(`failed tests:\n${failed.join('\n')}`);
  if (labels.length === 0) {
    console.error('error: no test results were collected');
    t.problems++;
  }
  console.log(line('tests', t));
  return t;
}

let t;
if (mode === '--collect' && label) t = collect(label);
else if (mode === '--total') t = total();
else {
  console.error('usage: node scripts/test-summary.mjs --collect <label> | --total');
  process.exit(2);
}
process.exit(t.failed > 0 || t.skipped > 0 || t.problems > 0 ? 1 : 0);
