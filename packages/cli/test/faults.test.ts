import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { Client, KeysAPI } from '@etcdkit/client';
import { freePorts } from '@etcdkit/testkit';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startCli } from './run-cli.js';

const endpoints = sharedClusterEndpoints().join(',');
const prefix = uniqueKeyPrefix('cli-faults');
const global = ['--endpoints', endpoints, '--prefix', prefix];
const client = new Client({ endpoints: sharedClusterEndpoints() });
const keys = new KeysAPI(client);

/** A loopback server that accepts connections and never answers: a hung etcd member. */
let hung: Server;
const held: Socket[] = [];
let hungURL = '';
beforeAll(async () => {
  hung = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  hungURL = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => hung.close(resolve));
  await client.close();
});

describe('etcdkit against an unreachable or hung cluster', () => {
  it('lock --timeout 3 against a hung endpoint ends in about 3 s and says the endpoint did not answer', async () => {
    const timeoutS = 3;
    const t0 = performance.now();
    const run = await cli(['lock', 'x', '--endpoints', hungURL, '--timeout', String(timeoutS), '--', 'true']);
    const elapsed = performance.now() - t0;
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `etcdkit lock: timed out after ${timeoutS} s waiting for lock /etcdkit/locks/x (endpoints ${hungURL} did not answer)\n`,
    );
    // The mechanism is the timeout itself; the margin is for starting Node on a loaded CI machine.
    expect(elapsed).toBeGreaterThan(timeoutS * 1000);
    expect(elapsed).toBeLessThan((timeoutS + 5) * 1000);
  });

  it('registry watch against a refused or hung endpoint ends with a message naming it (exit 1)', async () => {
    const refused = await cli(['registry', 'watch', 'api', '--endpoints', 'http://127.0.0.1:9']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^etcdkit registry watch: cannot reach etcd at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/,
    );
    expect(refused.stderr).toMatch(/check that etcd runs there/);
    const requestS = 1;
    const t0 = performance.now();
    const silent = await cli([
      'registry',
      'watch',
      'api',
      '--endpoints',
      hungURL,
      '--request-timeout',
      String(requestS),
    ]);
    expect(silent.code).toBe(1);
    expect(silent.stderr).toMatch(new RegExp(`${hungURL} did not answer within ${requestS} s`));
    expect(performance.now() - t0).toBeLessThan((requestS + 1 + 5) * 1000);
  });

  it('elect and registry ls against a hung endpoint fail within the request timeout with the endpoint named', async () => {
    for (const args of [
      ['elect', 'x', '--endpoints', hungURL, '--request-timeout', '1', '--', 'true'],
      ['registry', 'ls', 'api', '--endpoints', hungURL, '--request-timeout', '1'],
      ['lock', 'x', '--endpoints', hungURL, '--request-timeout', '1', '--', 'true'],
    ]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^etcdkit ${args[0]}.*${hungURL} did not answer within 1 s`));
    }
  });
});

/**
 * Waits until `dir` holds `count` keys (a second process queued behind the first). The bound is the start-up of
 * a Node process and one request, with room for a loaded 2-core CI machine.
 */
async function queued(dir: string, count: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const queue = await keys.get(dir, { quorum: true });
    if (queue.node!.nodes?.length === count) return;
    if (performance.now() > deadline) throw new Error(`${dir} never held ${count} keys`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Ctrl-C while waiting', () => {
  it('exits 130 while waiting for a lock, and removes the waiter key', async () => {
    const holder = startCli(['lock', 'busy', ...global, '--', 'sh', '-c', 'echo held; exec sleep 30']);
    await holder.waitFor(/held/);
    const waiter = startCli(['lock', 'busy', ...global, '--', 'echo', 'never']);
    // The waiter's key is in the queue behind the holder's: two keys.
    await queued(`${prefix}/locks/busy`, 2);
    waiter.child.kill('SIGINT');
    expect(await waiter.exited).toBe(130);
    expect(waiter.stdout).toBe('');
    expect(waiter.stderr).toMatch(/interrupted by SIGINT while waiting/);
    const queue = await keys.get(`${prefix}/locks/busy`, { quorum: true });
    expect(queue.node!.nodes).toHaveLength(1);
    holder.child.kill('SIGTERM');
    await holder.exited;
  });

  it('exits 130 while campaigning in an election, and removes the candidate key', async () => {
    const leader = startCli(['elect', 'sched', ...global, '--', 'sh', '-c', 'echo leading; exec sleep 30']);
    await leader.waitFor(/leading/);
    const candidate = startCli(['elect', 'sched', ...global, '--', 'echo', 'never']);
    await queued(`${prefix}/elections/sched`, 2);
    candidate.child.kill('SIGINT');
    expect(await candidate.exited).toBe(130);
    const queue = await keys.get(`${prefix}/elections/sched`, { quorum: true });
    expect(queue.node!.nodes).toHaveLength(1); // the candidate's key is gone
    leader.child.kill('SIGTERM');
    await leader.exited;
  });
});

describe('--json and --debug', () => {
  it('registry ls -o json and watch --json print JSON that parses (watch: one object a line)', async () => {
    const { ServiceRegistry } = await import('@etcdkit/recipes');
    const registry = new ServiceRegistry(keys, `${prefix}/services`, { ttl: 5 });
    const a = await registry.register({ service: 'web', id: 'w1', address: '10.0.0.1', port: 80 });
    const ls = await cli(['registry', 'ls', 'web', ...global, '-o', 'json']);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toMatchObject([{ id: 'w1', address: '10.0.0.1', port: 80 }]);
    const watch = startCli(['registry', 'watch', 'web', ...global, '--json']);
    await watch.waitFor(/"w1"/);
    await a.close();
    await watch.waitFor(/"removed"/);
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
    const lines = watch.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toMatchObject([
      { type: 'added', instance: { id: 'w1' } },
      { type: 'removed', instance: { id: 'w1' } },
    ]);
    await registry.close();
  });

  it('--debug prints each request to stderr without the password', async () => {
    const run = await cli(['registry', 'ls', 'api', ...global, '--username', 'root:s3cr3t-debug', '--debug']);
    // The shared cluster has no auth enabled: the request succeeds and the credentials were only sent.
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^cURL Command: curl -X GET http:\/\/127\.0\.0\.1:\d+\/v2\/keys\//m);
    expect(run.stderr).toMatch(/^etcdkit: debug: (200|404) GET http:/m);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/s3cr3t|cm9vdD/); // nor base64 of root:...
    const failing = await cli(['registry', 'ls', 'api', '--endpoints', 'http://127.0.0.1:9', '--debug'], {
      ETCDCTL_PASSWORD: 's3cr3t-env',
      ETCDCTL_USERNAME: 'root',
    });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/etcdkit: debug: cause: ClusterError/);
    expect(failing.stderr).not.toMatch(/s3cr3t/);
  });

  it('--debug on lock prints the requests and the lock events, one line each, and never the password', async () => {
    const password = 's3cr3t-lock-debug';
    const run = await cli([
      '--debug',
      'lock',
      'traced',
      ...global,
      '--username',
      'root',
      '--password',
      password,
      '--',
      process.execPath,
      '-e',
      'setTimeout(() => console.log("held"), 200)',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('held\n');
    const key = `${prefix}/locks/traced`;
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('etcdkit: debug: '));
    // the waiter's key is created in order (POST), then the lock is held, then released
    expect(lines).toContainEqual(
      expect.stringMatching(/^etcdkit: debug: 201 POST http:\/\/127\.0\.0\.1:\d+\/v2\/keys\/.* \d+ ms$/),
    );
    const acquired = lines.findIndex((line) =>
      new RegExp(
        `^etcdkit: debug: lock ${key}: acquired ${key}/\\d+ after waiting \\d+ ms \\(fencing token \\d+\\)$`,
      ).test(line),
    );
    const released = lines.findIndex((line) =>
      new RegExp(`^etcdkit: debug: lock ${key}: released ${key}/\\d+ after holding \\d+ ms$`).test(line),
    );
    expect(acquired, run.stderr).toBeGreaterThanOrEqual(0);
    expect(released, run.stderr).toBeGreaterThan(acquired);
    const held = Number(/after holding (\d+) ms/.exec(lines[released]!)![1]);
    expect(held).toBeGreaterThanOrEqual(200); // the command ran for 200 ms while the lock was held
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/s3cr3t|cm9vdD/); // nor base64 of root:...
  });

  it('cluster up -o json --port prints one JSON line with fixed-port endpoints that work, and stays up until Ctrl-C', async () => {
    const [port] = await freePorts(1);
    const run = startCli(['cluster', 'up', '--size', '1', '--port', String(port), '-o', 'json']);
    await run.waitFor(/\n/);
    const up = JSON.parse(run.stdout.split('\n')[0]!) as { endpoints: string[]; members: { pid: number }[] };
    expect(up.endpoints).toEqual([`http://127.0.0.1:${port}`]);
    expect(up.members).toHaveLength(1);
    const upClient = new Client({ endpoints: up.endpoints });
    await new KeysAPI(upClient).set('/hello', 'fixed port');
    await upClient.close();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('cluster up --port on a port in use fails with a message naming the port', async () => {
    const busy = (hung.address() as { port: number }).port;
    const run = await cli(['cluster', 'up', '--size', '1', '--port', String(busy)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy} \\(EADDRINUSE\\)`));
  });
});

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the CLI as on a machine with no Docker daemon, even while one runs here (CI starts one): in a private mount
 * namespace whose /run, where docker.sock lives, is an empty tmpfs, with a HOME that has no Docker contexts and a
 * DOCKER_HOST that points nowhere (testcontainers tries each of them in turn). Needs root, as CI has.
 */
const WITHOUT_DOCKER = {
  launcher: [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mount -t tmpfs none /run && exec "$@"',
    'sh',
  ],
};
const NO_DOCKER_ENV = {
  DOCKER_HOST: 'unix:///nonexistent/docker.sock',
  HOME: '/nonexistent-home',
  XDG_RUNTIME_DIR: '/nonexistent-runtime',
};

describe('cluster up --backend docker, when Docker cannot help', () => {
  it('with no Docker daemon, says to start Docker or use --backend process', async () => {
    const run = await cli(
      ['cluster', 'up', '--backend', 'docker'],
      { ...NO_DOCKER_ENV, TESTCONTAINERS_RYUK_DISABLED: 'true' },
      WITHOUT_DOCKER,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no working Docker daemon.*--backend process/s);
    const local = await cli(
      ['cluster', 'up', '--backend', 'docker', '--image', 'local'],
      NO_DOCKER_ENV,
      WITHOUT_DOCKER,
    );
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/no working Docker daemon/);
  });

  it.skipIf(!dockerAnswers())(
    'when the image cannot be pulled (offline), says to use --image local and TESTCONTAINERS_RYUK_DISABLED',
    async () => {
      // A registry on a closed loopback port fails the pull the way an offline machine does.
      const run = await cli(
        ['cluster', 'up', '--backend', 'docker', '--image', '127.0.0.1:9/etcd:none', '--debug'],
        {
          TESTCONTAINERS_RYUK_DISABLED: 'true',
        },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/--image local/);
      expect(run.stderr).toMatch(/TESTCONTAINERS_RYUK_DISABLED=true/);
      expect(run.stderr).toMatch(/etcdkit: debug: cause: /);
    },
  );
});
