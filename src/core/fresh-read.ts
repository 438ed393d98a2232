// One read shared by everyone who asks at about the same time, never older than the question: a caller
// gets the read in flight if it started after the call, or else the next one, which starts as soon as
// the one in flight ends. A thousand subscribers asking on one tick cost one or two reads, not a thousand.
export function freshRead<T>(read: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    current = read().finally(() => (current = undefined));
    return current;
  };
  return () => {
    if (!current) return start();
    next ??= current
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return current ?? start();
      });
    return next;
  };
}
