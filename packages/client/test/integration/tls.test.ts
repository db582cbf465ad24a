import { rmSync } from 'node:fs';
import { type Cluster, makeTestCertificates, startCluster, type TestCertificates } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AuthAPI,
  AuthUserAPI,
  Client,
  ClusterError,
  disableCurlDebug,
  EndpointError,
  enableCurlDebug,
  KeysAPI,
} from '../../src/index.js';

let certs: TestCertificates;
let cluster: Cluster;
beforeAll(async () => {
  certs = await makeTestCertificates();
  cluster = await startCluster({
    size: 3,
    clientTLS: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, trustedCAFile: certs.caFile },
  });
});
afterAll(async () => {
  await cluster?.close();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

describe('TLS and basic auth against real etcd', () => {
  it('talks https with a CA and a client certificate; fails clearly without them', async () => {
    await using client = new Client({
      endpoints: cluster.clientURLs,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    const keys = new KeysAPI(client);
    await keys.set('/tls/k', 'secure');
    expect((await keys.get('/tls/k')).node?.value).toBe('secure');
    expect((await client.getVersion()).server).toMatch(/^3\./);

    await using noClientCert = new Client({ endpoints: cluster.clientURLs, tls: { ca: certs.ca } });
    const refused = (await new KeysAPI(noClientCert).get('/tls/k').catch((e: unknown) => e)) as ClusterError;
    expect(refused).toBeInstanceOf(ClusterError);
    expect(refused.errors).toHaveLength(3);

    await using untrusted = new Client({
      endpoints: cluster.clientURLs,
      tls: { cert: certs.clientCert, key: certs.clientKey },
    });
    const unknownCA = (await new KeysAPI(untrusted).get('/tls/k').catch((e: unknown) => e)) as ClusterError;
    expect(unknownCA.errors[0]).toBeInstanceOf(EndpointError);
    expect(unknownCA.errors[0]!.message).toMatch(/certificate/i);
  });

  it('basic auth over TLS, with no credential in cURL lines or errors', async () => {
    const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    await using admin = new Client({ endpoints: cluster.clientURLs, tls });
    await new AuthUserAPI(admin).addUser('root', 'tls-root-pw');
    await new AuthAPI(admin).enable();
    await using root = new Client({
      endpoints: cluster.clientURLs,
      tls,
      username: 'root',
      password: 'tls-root-pw',
    });
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    enableCurlDebug();
    try {
      await new AuthUserAPI(root).addUser('bob', 'bob-pw');
      expect((await new AuthUserAPI(root).getUser('bob')).user).toBe('bob');
      await using wrong = new Client({
        endpoints: cluster.clientURLs,
        tls,
        username: 'root',
        password: 'bad-pw',
      });
      const error = await new AuthUserAPI(wrong).listUsers().catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'AuthError', status: 401 });
      const everything = `${lines.join('')} ${String(error)} ${(error as Error).stack} ${JSON.stringify(error)}`;
      for (const secret of [
        'tls-root-pw',
        'bob-pw',
        'bad-pw',
        Buffer.from('root:tls-root-pw').toString('base64'),
      ]) {
        expect(everything).not.toContain(secret);
      }
      expect(lines.some((line) => line.includes('"password\\":\\"***\\"'))).toBe(true);
    } finally {
      disableCurlDebug();
      spy.mockRestore();
      await new AuthAPI(root).disable();
    }
  });
});
