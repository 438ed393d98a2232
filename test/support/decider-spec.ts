// Given / when / then for deciders: given past events, when a command, then these events or this error.
import { expect } from 'vitest';
import { fold, type Decider } from '../../src/core/decider.ts';
import type { Command, Event } from '../../src/core/messages.ts';

export function deciderSpec<C extends Command, E extends Event, S>(decider: Decider<C, E, S>) {
  return {
    given: (events: E[]) => ({
      when: (command: C) => {
        const run = () => decider.decide(command, fold(decider, events));
        return {
          // biome-ignore lint/suspicious/noThenProperty: given/when/then is the spec's language; nothing awaits it
          then: (expected: E[]) => expect(run()).toEqual(expected),
          thenThrows: (errorClass: new (...args: never[]) => Error, message?: RegExp) => {
            let thrown: unknown;
            try {
              run();
            } catch (error) {
              thrown = error;
            }
            expect(thrown).toBeInstanceOf(errorClass);
            if (message) expect((thrown as Error).message).toMatch(message);
          },
        };
      },
    }),
  };
}
