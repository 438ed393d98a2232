// RecordFulfilment (internal, sent by the fulfilment process): the order's fulfilment moves on to an
// outcome that may follow its status.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { FulfilmentEvent } from './events.ts';
import { NEXT, type FulfilmentState } from './fulfilment.ts';

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

export function decideRecordFulfilment(command: RecordFulfilment, state: FulfilmentState): [FulfilmentEvent] {
  assertAdmin(command.metadata.caller, 'record fulfilment');
  const { orderId, outcome } = command.data;
  if (!NEXT[state.status].includes(outcome)) {
    throw new RuleViolationError(`The fulfilment of order ${orderId} cannot go from ${state.status} to ${outcome}`);
  }
  return [{ type: OUTCOMES[outcome], data: { orderId, at: command.metadata.now.toISOString() } }];
}
