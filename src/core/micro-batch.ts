// Calls that arrive together share one trip: every key asked for while the event loop works through one
// round of I/O goes to one `loadMany` (DataLoader, without its cache). The batch goes out in the check
// phase (setImmediate), right after the I/O callbacks that asked, so a lone call waits for nothing.
import DataLoader from 'dataloader';

/**
 * `loadMany` answers each key at its index: a value, an Error (that key's call fails) or a promise (that
 * key's call settles with it, on its own time).
 */
export function createMicroBatcher<K, V>(
  loadMany: (keys: readonly K[]) => Promise<readonly (V | Error | Promise<V>)[]>,
  options: { maxBatch?: number } = {},
): (key: K) => Promise<V> {
  const loader = new DataLoader<K, V>(loadMany as (keys: readonly K[]) => Promise<(V | Error)[]>, {
    cache: false,
    maxBatchSize: options.maxBatch ?? 500,
    batchScheduleFn: (run) => setImmediate(run),
  });
  return (key) => loader.load(key);
}
