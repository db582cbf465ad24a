/** The `provide`/`inject` key under which the global setup passes the shared cluster's client URLs. */
export const SHARED_ENDPOINTS_KEY = 'etcdkit:sharedClusterEndpoints' as const;

declare module 'vitest' {
  export interface ProvidedContext {
    'etcdkit:sharedClusterEndpoints': string[];
  }
}
