import { TestkitError } from '../errors.js';

type Testcontainers = typeof import('testcontainers');

/**
 * Loads testcontainers, an optional peer dependency: only the Docker backend needs it.
 * @throws {TestkitError} saying how to install it, when it is missing.
 */
export async function loadTestcontainers(): Promise<Testcontainers> {
  try {
    return await import('testcontainers');
  } catch (error) {
    throw new TestkitError(
      'the Docker backend needs testcontainers: npm install --save-dev testcontainers@11',
      { cause: error },
    );
  }
}

/** Labels on everything the Docker backend makes, so that it can be found and swept. */
export const LABEL = {
  /** On every container and network testkit makes. */
  testkit: 'org.etcdkit.testkit',
  /** The cluster token. */
  cluster: 'org.etcdkit.cluster',
  /** `<hostname>:<pid>` of the process that made it. */
  owner: 'org.etcdkit.owner',
} as const;
