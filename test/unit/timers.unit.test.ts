import { afterEach, describe, expect, it, vi } from 'vitest';
import { runAt } from '../../src/core/timers.ts';

describe('runAt', () => {
  afterEach(() => vi.useRealTimers());

  it('waits for a deadline beyond setTimeout’s 24.8-day limit instead of firing at once', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    runAt(Date.now() + 40 * 24 * 3600 * 1000, fired);
    vi.advanceTimersByTime(1000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * 24 * 3600 * 1000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(10 * 24 * 3600 * 1000);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('can be cancelled', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const cancel = runAt(Date.now() + 100, fired);
    cancel();
    vi.advanceTimersByTime(200);
    expect(fired).not.toHaveBeenCalled();
  });
});
