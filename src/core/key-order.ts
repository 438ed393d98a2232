// Runs work items concurrently, except that an item waits for every earlier item that shares one of its
// keys: the outcome is the one running them in order would give, when items that share nothing cannot
// affect each other. Resolves once all have settled; rejects with the first failure (after all settled,
// so that nothing still runs when the caller moves on).
export async function runInKeyOrder<T>(
  items: readonly T[],
  keysOf: (item: T) => Iterable<string>,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const tails = new Map<string, Promise<unknown>>();
  const runs = items.map((item) => {
    const keys = [...new Set(keysOf(item))];
    const before = keys.flatMap((key) => tails.get(key) ?? []);
    // An earlier item's failure does not stop this one: the caller fails the whole batch anyway.
    const run = Promise.allSettled(before).then(() => work(item));
    for (const key of keys) tails.set(key, run);
    return run;
  });
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
