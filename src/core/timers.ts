// Timers for far deadlines (a token's expiry), which setTimeout alone cannot reach.
/**
 * Runs `fn` at `epochMs`, however far away: setTimeout takes at most 2^31-1 ms (about 24.8 days) and
 * fires at once for anything longer, so a far deadline is reached in steps. Returns the cancel function.
 */
export function runAt(epochMs: number, fn: () => void): () => void {
  const MAX_DELAY = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = epochMs - Date.now();
    if (delay > MAX_DELAY) timer = setTimeout(arm, MAX_DELAY);
    else timer = setTimeout(fn, Math.max(0, delay));
    timer.unref?.();
  };
  arm();
  return () => clearTimeout(timer);
}
