// RecordFulfilment (internal, sent by the fulfilment process): the order's fulfilment moves on to an
// outcome that may follow its status.
import { z } from 'zod';
import { assertAdmin } from '../core/caller.ts';
import type { Decider } from '../core/decider.ts';
import { RuleViolationError } from '../core/errors.ts';
import { commandId, id } from '../core/input-fields.ts';
import type { Command } from '../core/messages.ts';
import type { Aggregate } from '../core/module.ts';
import { FULFILMENT_STREAM_TYPE, fulfilmentStreamId, type FulfilmentEvent } from './events.ts';
import { evolve, initialState, NEXT, type FulfilmentState } from './fulfilment.ts';

const OUTCOMES = {
  RESERVED: 'FulfilmentReserved',
  BACKORDERED: 'FulfilmentBackordered',
  RELEASED: 'FulfilmentReleased',
  SHIPPED: 'FulfilmentShipped',
} as const;

export const recordFulfilmentInput = z.object({
  commandId: commandId.optional(),
  orderId: id,
  outcome: z.enum(Object.keys(OUTCOMES) as [keyof typeof OUTCOMES, ...(keyof typeof OUTCOMES)[]]),
});

export type RecordFulfilment = Command<'RecordFulfilment', Omit<z.output<typeof recordFulfilmentInput>, 'commandId'>>;

export function decideRecordFulfilment(command: RecordFulfilment, state: FulfilmentState): FulfilmentEvent[] {
  assertAdmin(command.metadata.caller, 'record fulfilment');
  const { orderId, outcome } = command.data;
  if (!NEXT[state.status].includes(outcome)) {
    throw new RuleViolationError(`The fulfilment of order ${orderId} cannot go from ${state.status} to ${outcome}`);
  }
  return [{ type: OUTCOMES[outcome], data: { orderId, at: command.metadata.now.toISOString() } }];
}

export const fulfilmentDecider: Decider<RecordFulfilment, FulfilmentEvent, FulfilmentState> = {
  decide: decideRecordFulfilment,
  evolve,
  initialState,
};

export const fulfilmentAggregate: Aggregate<RecordFulfilment, FulfilmentEvent, FulfilmentState> = {
  streamType: FULFILMENT_STREAM_TYPE,
  decider: fulfilmentDecider,
  inputs: { RecordFulfilment: recordFulfilmentInput },
  streamId: (command) => fulfilmentStreamId(command.data.orderId),
};
