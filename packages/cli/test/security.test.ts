import { rmSync } from 'node:fs';
import { makeTestCertificates, startCluster } from '@etcdkit/testkit';
import { describe, expect, it } from 'vitest';
import { cli } from './run-cli.js';

describe('etcdkit over TLS and with credentials', () => {
  it('reaches an https cluster with --cacert, --cert and --key, and fails clearly without them', async () => {
    const certs = await makeTestCertificates();
    try {
      await using cluster = await startCluster({
        size: 1,
        clientTLS: {
          certFile: certs.serverCertFile,
          keyFile: certs.serverKeyFile,
          trustedCAFile: certs.caFile,
        },
      });
      const endpoints = cluster.clientURLs.join(',');
      const tls = ['--cacert', certs.caFile, '--cert', certs.clientCertFile, '--key', certs.clientKeyFile];
      const ok = await cli(['registry', 'ls', 'api', '--endpoints', endpoints, ...tls]);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      const etcdctlNames = [
        '--ca-file',
        certs.caFile,
        '--cert-file',
        certs.clientCertFile,
        '--key-file',
        certs.clientKeyFile,
      ];
      expect((await cli(['registry', 'ls', 'api', '--endpoints', endpoints, ...etcdctlNames])).code).toBe(0);
      const noCert = await cli(['registry', 'ls', 'api', '--endpoints', endpoints, '--cacert', certs.caFile]);
      expect(noCert.code).toBe(1);
      expect(noCert.stderr).toMatch(/^etcdkit registry ls: cannot reach etcd at https:/);
      const missing = await cli([
        'registry',
        'ls',
        'api',
        '--endpoints',
        endpoints,
        '--cacert',
        '/no/such/ca.pem',
      ]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read the CA file \/no\/such\/ca\.pem/);
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  it('never prints the password, from --username user:pass, --password or ETCDCTL_PASSWORD', async () => {
    const dead = ['--endpoints', 'http://127.0.0.1:9'];
    const runs = await Promise.all([
      cli(['registry', 'ls', 'api', ...dead, '--username', 'root:s3cr3t-colon']),
      cli(['registry', 'ls', 'api', ...dead, '--username', 'root', '--password', 's3cr3t-flag']),
      cli(['registry', 'ls', 'api', ...dead, '--username', 'root'], { ETCDCTL_PASSWORD: 's3cr3t-env' }),
      cli(['lock', 'x', ...dead, '--username', 'root:s3cr3t-lock', '--timeout', '1', '--', 'true']),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(`${run.stdout}${run.stderr}`).not.toMatch(/s3cr3t/);
    }
    expect((await cli(['registry', 'ls', 'api', '--password', 'x'])).code).toBe(2);
  });
});
