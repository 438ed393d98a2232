// From a client's input to an Order command: validate with the command's zod schema (paths relative to
// `basePath`), then move what is about handling (commandId, expectedVersion) to the metadata.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { CommandMetadata } from '../../core/messages.ts';
import { parseWith } from '../../core/validation.ts';
import type { OrderCommand } from '../decider.ts';
import { addOrderItemInput } from './add-order-item.ts';
import { cancelOrderInput } from './cancel-order.ts';
import { createOrderInput } from './create-order.ts';
import { shipOrderInput } from './ship-order.ts';

export const orderCommandInputs = {
  CreateOrder: createOrderInput,
  AddOrderItem: addOrderItemInput,
  CancelOrder: cancelOrderInput,
  ShipOrder: shipOrderInput,
} satisfies Record<OrderCommand['type'], z.ZodType>;

/** The caller is required: no entry point may send a command without saying who sends it. */
export type CommandContext = Pick<CommandMetadata, 'caller'> & Partial<Pick<CommandMetadata, 'correlationId' | 'now' | 'newId'>>;

export function parseOrderCommand<T extends OrderCommand['type']>(
  type: T,
  input: unknown,
  context: CommandContext,
  basePath: (string | number)[] = ['input'],
): Extract<OrderCommand, { type: T }> {
  const parsed = parseWith(orderCommandInputs[type], input, basePath) as Record<string, unknown>;
  const { commandId, expectedVersion, ...data } = parsed as { commandId?: string; expectedVersion?: number };
  const metadata: CommandMetadata = {
    caller: context.caller,
    now: context.now ?? new Date(),
    newId: context.newId ?? randomUUID(),
    ...(commandId !== undefined && { commandId }),
    ...(expectedVersion !== undefined && { expectedVersion }),
    ...(context.caller.userId !== null && { userId: context.caller.userId }),
    ...(context.correlationId !== undefined && { correlationId: context.correlationId }),
  };
  return { type, data, metadata } as unknown as Extract<OrderCommand, { type: T }>;
}
