// Waiting in a test for something another process or a push brings: `check` polled until it holds.
// A bound, never a timing: the test fails with `what` if it does not come.

export type UntilOptions = { timeoutMs?: number; intervalMs?: number };

/** Polls `check` until it returns something truthy, and returns that; throws naming `what` past the timeout. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 20 }: UntilOptions = {},
): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((resolve) => setTimeout(resolve, intervalMs))) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** `until` with this file's bounds, so that its calls name only what they wait for. */
export const untilWithin =
  (options: UntilOptions) =>
  <T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> =>
    until(what, check, options);
