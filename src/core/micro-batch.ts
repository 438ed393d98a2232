// Calls that arrive together share one trip: every key asked for while the event loop works through one
// round of I/O goes to one `loadMany` (DataLoader, without its cache). The batch goes out in the check
// phase (setImmediate), right after the I/O callbacks that asked, so a lone call waits for nothing. Calls
// of different tenants never share a batch: each batch runs in the tenant its calls act for.
import DataLoader from 'dataloader';
import { currentTenant, inTenant } from './tenancy.ts';

/**
 * `loadMany` answers each key at its index: a value, an Error (that key's call fails) or a promise (that
 * key's call settles with it, on its own time).
 */
export function createMicroBatcher<K, V>(
  loadMany: (keys: readonly K[]) => Promise<readonly (V | Error | Promise<V>)[]>,
  options: { maxBatch?: number } = {},
): (key: K) => Promise<V> {
  const loaders = new Map<string | undefined, DataLoader<K, V>>();
  const loaderOf = (tenant: string | undefined) => {
    let loader = loaders.get(tenant);
    if (!loader) {
      const load = (keys: readonly K[]) => (tenant === undefined ? loadMany(keys) : inTenant(tenant, () => loadMany(keys)));
      loader = new DataLoader<K, V>(load as (keys: readonly K[]) => Promise<(V | Error)[]>, {
        cache: false,
        maxBatchSize: options.maxBatch ?? 500,
        batchScheduleFn: (run) => setImmediate(run),
      });
      loaders.set(tenant, loader);
    }
    return loader;
  };
  return (key) => loaderOf(currentTenant()).load(key);
}
