// Commands through a database restart: run again only where that cannot apply them twice.
import { describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { retryUnavailableCommands } from '../../src/core/command-retry.ts';
import { RuleViolationError, UnavailableError } from '../../src/core/errors.ts';
import type { Command } from '../../src/core/messages.ts';

const commandOf = (commandId?: string): Command => ({
  type: 'CreateOrder',
  data: {},
  metadata: { caller: SYSTEM_CALLER, now: new Date(0), newId: 'x', ...(commandId && { commandId }) },
});

/** A handler that fails with each of `failures` in turn, then answers "done"; counts its runs. */
function handler(failures: Error[]) {
  let runs = 0;
  const next = async () => {
    const failure = failures[runs++];
    if (failure) throw failure;
    return 'done';
  };
  return { next, runs: () => runs };
}

const away = (outcome: 'none' | 'unknown') => new UnavailableError({ outcome });
const retry = retryUnavailableCommands<Command, string>({ timeoutMs: 2000, firstPauseMs: 1, maxPauseMs: 5 });

describe('retryUnavailableCommands', () => {
  it('runs again a command of which nothing was committed', async () => {
    const h = handler([away('none'), away('none')]);
    expect(await retry(commandOf(), h.next)).toBe('done');
    expect(h.runs()).toBe(3);
  });

  it('runs again a command with a commandId even when its commit may have happened (a repeat answers the first result)', async () => {
    const h = handler([away('unknown'), away('none')]);
    expect(await retry(commandOf('c-1'), h.next)).toBe('done');
    expect(h.runs()).toBe(3);
  });

  it('answers outcome "unknown" at once for a command without a commandId whose commit may have happened', async () => {
    const h = handler([away('none'), away('unknown')]);
    const error = await retry(commandOf(), h.next).catch((e: UnavailableError) => e);
    expect(h.runs()).toBe(2);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, outcome: 'unknown' });
    expect((error as Error).message).toMatch(/may or may not have been applied/);
  });

  it('gives up at the deadline, saying whether any try may have committed', async () => {
    const quick = retryUnavailableCommands<Command, string>({ timeoutMs: 30, firstPauseMs: 1, maxPauseMs: 5 });
    const none = await quick(commandOf(), () => Promise.reject(away('none'))).catch((e: UnavailableError) => e);
    expect((none as UnavailableError).extensions).toMatchObject({ outcome: 'none', retryable: true });
    let first = true;
    const unknown = await quick(commandOf('c-2'), () => {
      const outcome = first ? 'unknown' : 'none';
      first = false;
      return Promise.reject(away(outcome));
    }).catch((e: UnavailableError) => e);
    expect((unknown as UnavailableError).extensions).toMatchObject({ outcome: 'unknown' });
  });

  it('passes every other answer through, untried again', async () => {
    const h = handler([new RuleViolationError('no')]);
    await expect(retry(commandOf('c-3'), h.next)).rejects.toBeInstanceOf(RuleViolationError);
    expect(h.runs()).toBe(1);
  });
});
