// Sums the vitest JSON results of every package into one closing line: "tests: N passed, N failed, N skipped".
// Exits non-zero when a package wrote no results, ran no test, or had a failure or a skipped test.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
let problems = 0;
const workspaces = [...readdirSync('packages').map((pkg) => `packages/${pkg}`), 'examples'];
for (const pkg of workspaces) {
  const manifest = JSON.parse(readFileSync(`${pkg}/package.json`, 'utf8'));
  if (!manifest.scripts?.test) continue;
  const file = `${pkg}/test-results.json`;
  if (!existsSync(file)) {
    console.error(`error: ${pkg} has a test script but wrote no ${file}`);
    problems++;
    continue;
  }
  const results = JSON.parse(readFileSync(file, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  skipped += results.numPendingTests + (results.numTodoTests ?? 0);
  if (results.numTotalTests === 0) {
    console.error(`error: ${pkg} ran no test`);
    problems++;
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || skipped > 0 || problems > 0 ? 1 : 0);
