import { type ServiceInstance, ServiceRegistry } from '@etcdkit/recipes';
import { connect, type GlobalValues, keyOf } from '../global-options.js';
import { interrupted } from '../run-command.js';
import { UsageError } from '../usage.js';

/** Options of `etcdkit registry`. */
export interface RegistryCommandValues extends GlobalValues {
  json?: boolean | undefined;
}

function describe(instance: ServiceInstance): string {
  const meta = instance.meta && Object.keys(instance.meta).length ? `  ${JSON.stringify(instance.meta)}` : '';
  return `${instance.id}  ${instance.address}:${instance.port}  since ${instance.registeredAt}${meta}`;
}

/** `etcdkit registry ls|watch <service>`: lists a service's instances, or follows them until Ctrl-C. */
export async function registryCommand(
  action: string | undefined,
  service: string | undefined,
  values: RegistryCommandValues,
  print: (line: string) => void,
): Promise<number> {
  if (action !== 'ls' && action !== 'watch') throw new UsageError('etcdkit registry needs ls or watch');
  if (!service) throw new UsageError(`etcdkit registry ${action} needs a service name`);
  const dir = keyOf(values, 'services', service);
  const prefix = dir.slice(0, dir.lastIndexOf('/')) || '/';
  const name = dir.slice(dir.lastIndexOf('/') + 1);
  const { client, keys } = connect(values);
  const registry = new ServiceRegistry(keys, prefix);
  try {
    if (action === 'ls') {
      const instances = await registry.list(name, { signal: AbortSignal.timeout(10_000) });
      if (values.json) print(JSON.stringify(instances, null, 2));
      else for (const instance of instances) print(describe(instance));
      return 0;
    }
    const interrupt = interrupted();
    try {
      for await (const change of registry.watch(name, { signal: interrupt.signal })) {
        print(
          values.json ? JSON.stringify(change) : `${change.type.padEnd(7)}  ${describe(change.instance)}`,
        );
      }
    } finally {
      interrupt.dispose();
    }
    return 0;
  } finally {
    await registry.close().catch(() => {});
    client.close();
  }
}
