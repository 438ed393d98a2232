// An aggregate as a decider: pure functions from (command, state) to events and (state, event) to state.
import type { Command, Event } from './messages.ts';

export type Decider<C extends Command, E extends Event, S> = {
  /** Decides what happened; throws a ConvergeError when a rule forbids the command. */
  decide(command: C, state: S): E[];
  evolve(state: S, event: E): S;
  initialState(): S;
};

export function fold<E extends Event, S>(decider: Pick<Decider<never, E, S>, 'evolve' | 'initialState'>, events: Iterable<E>): S {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
