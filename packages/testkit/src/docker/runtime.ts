import { TestcontainersLoadError, TestcontainersMissingError } from '../errors.js';

type Testcontainers = typeof import('testcontainers');

/** The testcontainers range testkit is tested with; 12.x needs Node.js >= 22.22. */
export const TESTCONTAINERS_RANGE = '^11.14.0';

/**
 * Loads testcontainers, an optional peer dependency: only the Docker backend needs it.
 *
 * @param importer - how to import it; tests pass a fake. Default: `import('testcontainers')`.
 * @throws {TestcontainersMissingError} when testcontainers itself is not installed.
 * @throws {TestcontainersLoadError} when it is installed but importing it failed (an unsupported version for
 *   this Node.js, a broken install); the import's error is the `cause` and its message is quoted.
 */
export async function loadTestcontainers(
  importer: () => Promise<Testcontainers> = () => import('testcontainers'),
): Promise<Testcontainers> {
  try {
    return await importer();
  } catch (error) {
    if (isMissingTestcontainers(error)) {
      throw new TestcontainersMissingError(
        `the Docker backend needs testcontainers: npm install --save-dev testcontainers@11`,
        { cause: error },
      );
    }
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new TestcontainersLoadError(
      `testcontainers is installed but failed to load (testkit supports testcontainers@${TESTCONTAINERS_RANGE} ` +
        `on Node.js ${process.versions.node}): ${detail}`,
      { cause: error },
    );
  }
}

/**
 * True when the import failed because the `testcontainers` package itself cannot be found, not one of its
 * own dependencies or files (those are a broken install, reported as a load failure).
 */
function isMissingTestcontainers(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return /Cannot find (?:package|module) 'testcontainers'/.test(error.message);
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
