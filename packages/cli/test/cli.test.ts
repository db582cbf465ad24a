import { Client, KeysAPI } from '@etcdkit/client';
import { ServiceRegistry } from '@etcdkit/recipes';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, cli, startCli } from './run-cli.js';

const endpoints = sharedClusterEndpoints().join(',');
const prefix = uniqueKeyPrefix('cli');
const global = ['--endpoints', endpoints, '--prefix', prefix];
const client = new Client({ endpoints: sharedClusterEndpoints() });
const keys = new KeysAPI(client);
afterAll(() => client.close());

describe('etcdkit: endpoints', () => {
  it('an unreachable etcd is an error (exit 1) that says so', async () => {
    const run = await cli(['registry', 'ls', 'api', '--endpoints', 'http://127.0.0.1:9']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^etcdkit registry ls: cannot reach etcd at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/m,
    );
  });

  it('ETCDCTL_ENDPOINTS is read when --endpoints is not given', async () => {
    const run = await cli(['registry', 'ls', 'nothing-here', '--prefix', prefix], {
      ETCDCTL_ENDPOINTS: endpoints,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
  });
});

describe('etcdkit lock', () => {
  it('runs commands one at a time, with rising fencing tokens, and passes their exit code', async () => {
    const script = 'echo "start $ETCDKIT_FENCING_TOKEN $ETCDKIT_LOCK_KEY"; sleep 0.3; echo end; exit 7';
    const runs = await Promise.all(
      [1, 2, 3].map(() => cli(['lock', 'job', ...global, '--ttl', '5', '--', 'sh', '-c', script])),
    );
    for (const run of runs) {
      expect(run.code).toBe(7);
      expect(run.stdout).toMatch(new RegExp(`^start \\d+ ${prefix}/locks/job/\\d+\\nend\\n$`));
    }
    const starts = runs.map((run) => Number(/start (\d+)/.exec(run.stdout)![1]));
    expect(new Set(starts).size).toBe(3);
  });

  it('holds the lock while the command runs: a second command waits for the first', async () => {
    const first = startCli(['lock', 'serial', ...global, '--', 'sh', '-c', 'echo first; sleep 1']);
    await first.waitFor(/first/);
    const t0 = performance.now();
    const second = await cli(['lock', 'serial', ...global, '--', 'echo', 'second']);
    expect(second.stdout).toBe('second\n');
    expect(performance.now() - t0).toBeGreaterThan(500);
    expect(await first.exited).toBe(0);
  });

  it('forwards SIGTERM to the command and exits 128 + 15; a command killed by a signal gives 128 + n', async () => {
    const run = startCli(['lock', 'signals', ...global, '--', 'sh', '-c', 'echo ready; exec sleep 30']);
    await run.waitFor(/ready/);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect((await cli(['lock', 'signals', ...global, '--', 'sh', '-c', 'kill -9 $$'])).code).toBe(137);
  });

  it('stops the command and exits 75 when the lock is lost', async () => {
    const run = startCli([
      'lock',
      'lost',
      ...global,
      '--ttl',
      '2',
      '--',
      'sh',
      '-c',
      'echo "key $ETCDKIT_LOCK_KEY"; exec sleep 30',
    ]);
    const [, key] = (await run.waitFor(/key (\S+)/))!;
    await keys.delete(key!); // someone removed the holder's key: the lock can no longer be trusted
    expect(await run.exited).toBe(75);
    expect(run.stderr).toMatch(/stopping the command/);
  });

  it('--timeout gives up waiting with exit 1 and leaves no waiter key', async () => {
    const holder = startCli(['lock', 'busy', ...global, '--', 'sh', '-c', 'echo held; exec sleep 5']);
    await holder.waitFor(/held/);
    const waiter = await cli(['lock', 'busy', ...global, '--timeout', '1', '--', 'echo', 'never']);
    expect(waiter.code).toBe(1);
    expect(waiter.stdout).toBe('');
    expect(waiter.stderr).toBe(
      `etcdkit lock: timed out after 1 s waiting for lock ${prefix}/locks/busy (another holder has it)\n`,
    );
    const queue = await keys.get(`${prefix}/locks/busy`, { quorum: true });
    expect(queue.node!.nodes).toHaveLength(1);
    holder.child.kill('SIGTERM');
    await holder.exited;
  });
});

describe('etcdkit elect', () => {
  it('runs the command while leader; the next candidate takes over when it ends', async () => {
    const first = startCli([
      'elect',
      'sched',
      ...global,
      '--value',
      'a',
      '--',
      'sh',
      '-c',
      'echo "leading $ETCDKIT_FENCING_TOKEN"; exec sleep 30',
    ]);
    const [, token] = (await first.waitFor(/leading (\d+)/))!;
    const second = startCli([
      'elect',
      'sched',
      ...global,
      '--value',
      'b',
      '--',
      'sh',
      '-c',
      'echo "leading $ETCDKIT_FENCING_TOKEN"',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(second.stdout).toBe('');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(143);
    const [, next] = (await second.waitFor(/leading (\d+)/))!;
    expect(Number(next)).toBeGreaterThan(Number(token));
    expect(await second.exited).toBe(0);
  });
});

describe('etcdkit registry', () => {
  it('ls lists instances; watch prints them as they come and go', async () => {
    const registry = new ServiceRegistry(keys, `${prefix}/services`, { ttl: 5 });
    const a = await registry.register({
      service: 'api',
      id: 'a1',
      address: '10.0.0.1',
      port: 80,
      meta: { zone: 'x' },
    });
    const ls = await cli(['registry', 'ls', 'api', ...global]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^a1 {2}10\.0\.0\.1:80 {2}since \S+ {2}\{"zone":"x"\}\n$/);
    const json = await cli(['registry', 'ls', 'api', ...global, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject([{ id: 'a1', port: 80 }]);
    const watch = startCli(['registry', 'watch', 'api', ...global]);
    await watch.waitFor(/added +a1/);
    const b = await registry.register({ service: 'api', id: 'b2', address: '10.0.0.2', port: 81 });
    await watch.waitFor(/added +b2/);
    await a.close();
    await watch.waitFor(/removed +a1/);
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
    await b.close();
    await registry.close();
  });
});

describe('etcdkit cluster up', () => {
  it('prints the endpoints of a working cluster, and removes it on Ctrl-C', async () => {
    const run = startCli(['cluster', 'up', '--size', '3']);
    const [, urls] = (await run.waitFor(/ETCDCTL_ENDPOINTS=(\S+)/))!;
    const pids = [...run.stdout.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(3);
    const upClient = new Client({ endpoints: urls!.split(',') });
    await new KeysAPI(upClient).set('/hello', 'world');
    upClient.close();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.stdout).toMatch(/cluster stopped, data removed/);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('--backend docker runs the cluster in containers (here from a local image) and removes them on Ctrl-C', async () => {
    const run = startCli(
      ['cluster', 'up', '--backend', 'docker', '--image', 'local', '--network', 'bridge'],
      {
        TESTCONTAINERS_RYUK_DISABLED: 'true',
      },
    );
    const [, urls] = (await run.waitFor(/ETCDCTL_ENDPOINTS=(\S+)/, 60_000))!;
    expect(run.stdout).toMatch(/3-member v2 cluster \(docker\)/);
    const upClient = new Client({ endpoints: urls!.split(',') });
    await new KeysAPI(upClient).set('/hello', 'container');
    upClient.close();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    const after = await cli(['registry', 'ls', 'x', '--endpoints', urls!]);
    expect(after.code).toBe(1); // nothing answers there any more
  }, 90_000);
});
