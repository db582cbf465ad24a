import { type ServiceInstance, ServiceRegistry } from '@etcdkit/recipes';
import { noAnswer } from '../errors.js';
import {
  connect,
  DEFAULT_REQUEST_TIMEOUT_S,
  endpointsOf,
  type GlobalValues,
  keyOf,
} from '../global-options.js';
import { interrupted, settleWithin } from '../run-command.js';
import { CLEANUP_MS, closeAll } from './lock.js';

/** Options of `etcdkit registry ls` and `watch`. */
export interface RegistryCommandValues extends GlobalValues {
  /** `json`: ls prints one JSON array, watch one JSON object a line. */
  output: 'text' | 'json';
}

function describe(instance: ServiceInstance): string {
  const meta = instance.meta && Object.keys(instance.meta).length ? `  ${JSON.stringify(instance.meta)}` : '';
  return `${instance.id}  ${instance.address}:${instance.port}  since ${instance.registeredAt}${meta}`;
}

/**
 * `etcdkit registry ls|watch <service>`: lists a service's instances, or follows them until Ctrl-C. Both first
 * read the service within a bound (each endpoint gets `--request-timeout`, plus a second), so an unreachable or
 * hung cluster is an error that names the endpoints instead of silence.
 */
export async function registryCommand(
  action: 'ls' | 'watch',
  service: string,
  values: RegistryCommandValues,
  print: (line: string) => void,
): Promise<number> {
  const dir = keyOf(values, 'services', service);
  const prefix = dir.slice(0, dir.lastIndexOf('/')) || '/';
  const name = dir.slice(dir.lastIndexOf('/') + 1);
  const endpoints = endpointsOf(values);
  const boundS = (values.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_S) * endpoints.length + 1;
  const { client, keys } = connect(values);
  const registry = new ServiceRegistry(keys, prefix);
  const json = values.output === 'json';
  const interrupt = interrupted();
  try {
    const bound = AbortSignal.timeout(boundS * 1000);
    let instances: ServiceInstance[];
    try {
      instances = await registry.list(name, { signal: AbortSignal.any([bound, interrupt.signal]) });
    } catch (error) {
      if (interrupt.signal.aborted) return 0;
      if (bound.aborted) throw noAnswer(endpoints, boundS, `cannot read service ${name}`);
      throw error;
    }
    if (action === 'ls') {
      if (json) print(JSON.stringify(instances));
      else for (const instance of instances) print(describe(instance));
      return 0;
    }
    // The watch reports every live instance as `added` first, then each change (it re-reads on its own when
    // etcd goes away for a while; the read above only proves the cluster answers now).
    for await (const change of registry.watch(name, { signal: interrupt.signal })) {
      print(json ? JSON.stringify(change) : `${change.type.padEnd(7)}  ${describe(change.instance)}`);
    }
    return 0;
  } finally {
    interrupt.dispose();
    await settleWithin(closeAll(registry, client), CLEANUP_MS);
  }
}
