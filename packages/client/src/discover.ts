import { Resolver } from 'node:dns/promises';
import { DiscoveryError } from './errors.js';

/** Options of {@link discoverEndpoints}. */
export interface DiscoverOptions {
  /** Looks up `_etcd-client[-ssl]-<serviceName>._tcp.<domain>` instead of `_etcd-client[-ssl]._tcp.<domain>`. */
  readonly serviceName?: string;
  /** The resolver to ask (e.g. one with `setServers(['127.0.0.1:5353'])`). Default: the system's. */
  readonly resolver?: Pick<Resolver, 'resolveSrv'>;
}

/**
 * Finds client endpoints through DNS SRV records (Go's `NewSRVDiscover().Discover`): first
 * `_etcd-client-ssl._tcp.<domain>` (https endpoints), then `_etcd-client._tcp.<domain>` (http), each in
 * priority order. Fails only when both look-ups fail.
 *
 * @throws {DiscoveryError} `dns lookup errors: <https error> and <http error>`.
 */
export async function discoverEndpoints(domain: string, options: DiscoverOptions = {}): Promise<string[]> {
  const resolver = options.resolver ?? new Resolver();
  const suffix = options.serviceName ? `-${options.serviceName}` : '';
  const lookup = async (service: string, scheme: string): Promise<string[]> => {
    const records = await resolver.resolveSrv(`_${service}${suffix}._tcp.${domain}`);
    return [...records]
      .sort((a, b) => a.priority - b.priority)
      .map(
        (record) =>
          `${scheme}://${record.name.includes(':') ? `[${record.name}]` : record.name}:${record.port}`,
      );
  };
  const [https, http] = await Promise.allSettled([
    lookup('etcd-client-ssl', 'https'),
    lookup('etcd-client', 'http'),
  ]);
  if (https.status === 'rejected' && http.status === 'rejected') {
    const text = (reason: unknown): string => (reason instanceof Error ? reason.message : String(reason));
    throw new DiscoveryError(`dns lookup errors: ${text(https.reason)} and ${text(http.reason)}`, {
      cause: [https.reason, http.reason],
    });
  }
  return [
    ...(https.status === 'fulfilled' ? https.value : []),
    ...(http.status === 'fulfilled' ? http.value : []),
  ];
}
