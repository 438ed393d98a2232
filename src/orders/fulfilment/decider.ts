// The Fulfilment decider: each command's decide behind one exhaustive switch.
import type { Decider } from '../../core/decider.ts';
import { assertNever } from '../../core/messages.ts';
import { decideRecordFulfilment, type RecordFulfilment } from './record-fulfilment.ts';
import type { FulfilmentEvent } from './events.ts';
import { evolve, initialState, type FulfilmentState } from './fulfilment.ts';

export type FulfilmentCommand = RecordFulfilment;

export function decide(command: FulfilmentCommand, state: FulfilmentState): FulfilmentEvent[] {
  switch (command.type) {
    case 'RecordFulfilment':
      return decideRecordFulfilment(command, state);
    default:
      return assertNever(command.type, 'fulfilment command');
  }
}

export const fulfilmentDecider: Decider<FulfilmentCommand, FulfilmentEvent, FulfilmentState> = { decide, evolve, initialState };
