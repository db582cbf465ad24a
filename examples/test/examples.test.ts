import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';

/** Runs an example as a user would, against the shared test cluster. */
async function runExample(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [fileURLToPath(new URL(`../${file}`, import.meta.url))],
    {
      env: {
        ...process.env,
        ETCDCTL_ENDPOINTS: sharedClusterEndpoints().join(','),
        EXAMPLE_PREFIX: uniqueKeyPrefix(file),
      },
      timeout: 60_000,
    },
  );
  return stdout;
}

describe('examples run as written', () => {
  it('lock.mjs: three workers write in turn with rising tokens', async () => {
    const out = await runExample('lock.mjs');
    const tokens = [...out.matchAll(/wrote with token (\d+)/g)].map((m) => Number(m[1]));
    expect(tokens).toHaveLength(9);
    expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
    expect(out).toMatch(/last report: \w+, round 2/);
  });

  it('election.mjs: each candidate leads in turn and the observer sees it', async () => {
    const out = await runExample('election.mjs');
    expect(out).toMatch(/node-a is leader[\s\S]*node-b is leader[\s\S]*node-c is leader/);
    expect(out).toMatch(/observer saw: .*node-a.*node-b.*node-c/);
  });

  it('registry.mjs: picks round-robin and drops a closed instance', async () => {
    const out = await runExample('registry.mjs');
    expect(out).toContain('picked: api-1, api-2, api-1');
    expect(out).toContain('instances now: api-2');
  });
});
