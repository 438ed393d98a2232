// Given / when / then for deciders: given past events, when a command, then these events or this error.
// Pure and synchronous, as deciders are; assertions from node:assert, so any test runner reports them.
import assert from 'node:assert/strict';
import { type Decider, fold } from '../core/decider.ts';
import type { Command, Event } from '../core/messages.ts';

export type DeciderSpecification<C extends Command, E extends Event> = {
  given(events: readonly E[]): {
    when(command: C): {
      /** The command decides exactly these events. */
      then(expected: readonly E[]): void;
      /** The command is refused with an error of this class (and a message matching `message`). */
      thenThrows(errorClass: new (...args: never[]) => Error, message?: RegExp): void;
    };
  };
};

/** `deciderSpec(orderDecider).given([...]).when(command).then([...])`. */
export function deciderSpec<C extends Command, E extends Event, S>(decider: Decider<C, E, S>): DeciderSpecification<C, E> {
  return {
    given: (events) => ({
      when: (command) => {
        const decide = () => decider.decide(command, fold(decider, events));
        return {
          // biome-ignore lint/suspicious/noThenProperty: given/when/then is the specification's language (as Emmett's)
          then: (expected) => assert.deepStrictEqual(decide(), expected),
          thenThrows(errorClass, message) {
            assert.throws(decide, (error: unknown) => {
              assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
              if (message) assert.match(error.message, message);
              return true;
            });
          },
        };
      },
    }),
  };
}
