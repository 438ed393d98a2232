// Builders for Order commands and events in tests.
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import type { CommandMetadata } from '../../src/core/messages.ts';
import { parseCommand, type CommandContext } from '../../src/core/command-input.ts';
import type { OrderCommand } from '../../src/orders/decider.ts';
import { orderAggregate } from '../../src/orders/order-aggregate.ts';

export const NOW = new Date('2026-11-27T12:00:00.000Z');

export const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

export const createOrderInput = (overrides: Record<string, unknown> = {}) => ({
  customerId: 'customer-1',
  items: [{ productId: 'p-1', quantity: 2, unitPrice: '9.99' }],
  shippingAddress: address,
  ...overrides,
});

export function command<T extends OrderCommand['type']>(
  type: T,
  input: Record<string, unknown>,
  context: Partial<CommandContext> = {},
): Extract<OrderCommand, { type: T }> {
  return parseCommand<OrderCommand, T>(orderAggregate.inputs, type, input, { caller: SYSTEM_CALLER, now: NOW, ...context });
}

export const meta = (overrides: Partial<CommandMetadata> = {}): CommandMetadata => ({
  caller: SYSTEM_CALLER,
  now: NOW,
  newId: 'order-1',
  ...overrides,
});
