import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** PEM files made by {@link makeTestCertificates}, and their contents. */
export interface TestCertificates {
  /** The folder holding every file (remove it when done). */
  readonly dir: string;
  readonly caFile: string;
  /** Server certificate for 127.0.0.1 and localhost, usable as a client certificate too. */
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** A client certificate (CN `client`) signed by the same CA. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/**
 * Makes a throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate with the
 * `openssl` command, for TLS tests against `startCluster({ clientTLS })`. Nothing is trusted system-wide.
 */
export async function makeTestCertificates(dir?: string): Promise<TestCertificates> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'etcdkit-certs-')));
  const file = (name: string): string => join(root, name);
  const openssl = (...args: string[]): Promise<unknown> => execFileAsync('openssl', args, { cwd: root });
  const ecKey = (name: string): Promise<unknown> =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(name));
  await ecKey('ca-key.pem');
  await openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    file('ca-key.pem'),
    '-subj',
    '/CN=etcdkit test CA',
    '-days',
    '2',
    '-out',
    file('ca.pem'),
  );
  const issue = async (name: string, subject: string, extensions: string): Promise<void> => {
    await ecKey(`${name}-key.pem`);
    await openssl(
      'req',
      '-new',
      '-key',
      file(`${name}-key.pem`),
      '-subj',
      subject,
      '-out',
      file(`${name}.csr`),
    );
    await writeFile(file(`${name}.ext`), extensions);
    await openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca-key.pem'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
      '-out',
      file(`${name}.pem`),
    );
  };
  await issue(
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await issue(
    'client',
    '/CN=client',
    'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  return {
    dir: root,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server-key.pem'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client-key.pem'),
    ca: await readFile(file('ca.pem'), 'utf8'),
    clientCert: await readFile(file('client.pem'), 'utf8'),
    clientKey: await readFile(file('client-key.pem'), 'utf8'),
  };
}
