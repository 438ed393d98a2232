// Loads by key in batches: every key asked for while the event loop works through one round of I/O is
// fetched by one call (one query instead of one per request, as DataLoader does for GraphQL). The
// batch goes out in the check phase (setImmediate), right after the I/O callbacks that asked, so a
// lone request waits for nothing; under load, concurrent requests share the round trip.

export type BatchLoader<K, V> = (key: K) => Promise<V | undefined>;

export function createBatchLoader<K, V>(
  /** Loads several keys at once; a key missing from the result has no value. */
  loadMany: (keys: K[]) => Promise<Map<K, V>>,
  options: { maxBatch?: number } = {},
): BatchLoader<K, V> {
  const maxBatch = options.maxBatch ?? 500;
  let pending: Map<K, { resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[]> | undefined;

  const run = async (batch: NonNullable<typeof pending>) => {
    try {
      const values = await loadMany([...batch.keys()]);
      for (const [key, waiters] of batch) for (const w of waiters) w.resolve(values.get(key));
    } catch (error) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
    }
  };

  return (key) =>
    new Promise<V | undefined>((resolve, reject) => {
      if (!pending) {
        const batch = (pending = new Map());
        setImmediate(() => {
          if (pending === batch) pending = undefined;
          void run(batch);
        });
      }
      const batch = pending;
      const waiters = batch.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else batch.set(key, [{ resolve, reject }]);
      // A full batch goes now; the next key starts another.
      if (batch.size >= maxBatch) pending = undefined;
    });
}
