// A bound on how long a caller waits for work it cannot cancel.
/**
 * Rejects when `work` has not settled within `ms` (the work itself goes on; its result is dropped), with
 * the error `timedOut` makes of the plain one.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, timedOut: (error: Error) => unknown = (error) => error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut(new Error(`no answer in ${ms} ms`))), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
