// RestockProduct (admin): more units on hand.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, expectedVersion, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { ProductRestocked } from '../events.ts';
import type { ProductState } from '../product.ts';
import { MAX_STOCK, stockQuantity } from './fields.ts';
import { requireProduct } from './require-product.ts';

export const restockProductInput = z.object({ commandId: commandId.optional(), sku: id, expectedVersion, quantity: stockQuantity });

export type RestockProduct = Command<'RestockProduct', Omit<z.output<typeof restockProductInput>, 'commandId' | 'expectedVersion'>>;

export function decideRestockProduct(command: RestockProduct, state: ProductState): [ProductRestocked] {
  assertAdmin(command.metadata.caller, 'restock products');
  const { sku, quantity } = command.data;
  const product = requireProduct(state, sku);
  if (product.onHand + quantity > MAX_STOCK) {
    throw new RuleViolationError(`Product ${sku} would have ${product.onHand + quantity} on hand; at most ${MAX_STOCK} are allowed`);
  }
  return [{ type: 'ProductRestocked', data: { sku, quantity, restockedAt: command.metadata.now.toISOString() } }];
}
