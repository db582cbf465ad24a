import { type Cluster, startCluster } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Client,
  ClusterError,
  disableCurlDebug,
  EndpointSelectionMode,
  enableCurlDebug,
  KeysAPI,
  MembersAPI,
  MembersError,
  UnexpectedStatusError,
} from '../../src/index.js';

let cluster: Cluster;
let client: Client;
let members: MembersAPI;
beforeAll(async () => {
  // etcd refuses reconfiguration until every member has been connected for 5 s (strict reconfig check);
  // a fresh test cluster would wait that out.
  cluster = await startCluster({ size: 3, extraArgs: ['--strict-reconfig-check=false'] });
  client = new Client({ endpoints: cluster.clientURLs });
  members = new MembersAPI(client);
});
afterAll(async () => {
  await client?.close();
  await cluster?.close();
});

describe('members API against a real cluster', () => {
  it('lists the members and finds the leader', async () => {
    const list = await members.list();
    expect(list.map((m) => m.name).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(list.map((m) => m.clientURLs[0]).sort()).toEqual([...cluster.clientURLs].sort());
    const leader = await members.leader();
    expect(leader.id).toBe((await cluster.waitForLeader()).id);
  });

  it('adds, updates and removes a member; removing it again succeeds (410)', async () => {
    const added = await members.add('http://127.0.0.1:1999');
    expect(added).toMatchObject({ name: '', clientURLs: [], peerURLs: ['http://127.0.0.1:1999'] });
    await expect(members.add(cluster.members[0]!.peerURL)).rejects.toMatchObject({
      name: 'MembersError',
      message: 'membership: peerURL exists',
      status: 409,
    });
    await members.update(added.id, ['http://127.0.0.1:1998']);
    expect((await members.list()).find((m) => m.id === added.id)?.peerURLs).toEqual([
      'http://127.0.0.1:1998',
    ]);
    await members.remove(added.id);
    await members.remove(added.id);
    expect((await members.list()).map((m) => m.id)).not.toContain(added.id);
  });

  it('reports unknown members and refuses malformed input before sending', async () => {
    await expect(members.remove('1234')).rejects.toBeInstanceOf(UnexpectedStatusError);
    const error = await members.update('1234', ['http://127.0.0.1:1997']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MembersError);
    expect((error as MembersError).message).toMatch(/No such member: 1234/);
    await expect(members.remove('../keys/x')).rejects.toBeInstanceOf(RangeError);
    await expect(members.add('127.0.0.1:2380')).rejects.toThrow(TypeError);
    await expect(members.add('ftp://127.0.0.1:2380')).rejects.toThrow(
      'URL scheme must be http, https, unix, or unixs',
    );
    await expect(members.add('http://127.0.0.1')).rejects.toThrow('does not have the form "host:port"');
    await expect(members.add('http://127.0.0.1:2380/path')).rejects.toThrow('URL must not contain a path');
  });

  it('refuses to update a member to no peer URLs before sending, as Go does (etcd would answer 400)', async () => {
    const [first] = await members.list();
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    enableCurlDebug();
    const error = await members.update(first!.id, []).catch((e: unknown) => e);
    disableCurlDebug();
    spy.mockRestore();
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('no valid URLs given');
    expect(lines).toEqual([]);
    expect((await members.list()).find((m) => m.id === first!.id)?.peerURLs).toEqual(first!.peerURLs);
  });

  it('never puts a peer URL’s credentials in an error', async () => {
    for (const bad of ['ftp://root:s3cret@h:1', 'http://root:s3cret@h', 'http://root:s3/cret@h:1/x']) {
      const error = (await members.add(bad).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(TypeError);
      expect(`${error.message} ${JSON.stringify(error)} ${error.stack}`).not.toContain('s3');
    }
  });
});

describe('sync', () => {
  it('random mode: learns the members’ URLs; an unchanged set keeps the pin', async () => {
    const synced = new Client({ endpoints: [cluster.clientURLs[1]!] });
    await synced.sync();
    expect([...synced.endpoints()].sort()).toEqual([...cluster.clientURLs].sort());
    const before = synced.endpoints();
    await synced.sync();
    expect(synced.endpoints()).toEqual(before);
    await synced.close();
  });

  it('prioritize-leader mode: member order, the leader pinned', async () => {
    const synced = new Client({
      endpoints: cluster.clientURLs,
      selectionMode: EndpointSelectionMode.PrioritizeLeader,
    });
    await synced.sync();
    const leader = await cluster.waitForLeader();
    const inMemberOrder = (await members.list()).flatMap((m) => m.clientURLs);
    expect(synced.endpoints()).toEqual(inMemberOrder);
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    enableCurlDebug();
    await new KeysAPI(synced).get('/');
    disableCurlDebug();
    spy.mockRestore();
    expect(lines[0]).toContain(leader.clientURL);
    await synced.close();
  });

  it('autoSync syncs at once and ends with the abort reason', async () => {
    const synced = new Client({ endpoints: [cluster.clientURLs[0]!] });
    const controller = new AbortController();
    const running = synced.autoSync(50, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(synced.endpoints()).toHaveLength(3);
    const reason = new Error('done');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    await expect(synced.autoSync(0)).rejects.toBeInstanceOf(RangeError);
    await synced.close();
  });

  it('a sync that cannot read the member list rejects with that error and keeps the endpoints', async () => {
    const lonely = await startCluster({ size: 1 });
    const synced = new Client({ endpoints: lonely.clientURLs, headerTimeoutPerRequest: 200 });
    await lonely.members[0]!.pause();
    await expect(synced.sync()).rejects.toBeInstanceOf(ClusterError);
    expect(synced.endpoints()).toEqual(lonely.clientURLs);
    await lonely.members[0]!.resume();
    await synced.close();
    await lonely.close();
  });
});
