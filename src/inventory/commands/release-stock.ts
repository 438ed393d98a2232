// ReleaseStock (internal): what an order holds of a product is available again. Once: a second
// release finds nothing to release.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { StockReleased } from '../events.ts';
import type { ProductState } from '../product.ts';
import { requireProduct } from './require-product.ts';

export const releaseStockInput = z.object({ commandId: commandId.optional(), sku: id, orderId: id });

export type ReleaseStock = Command<'ReleaseStock', Omit<z.output<typeof releaseStockInput>, 'commandId'>>;

export function decideReleaseStock(command: ReleaseStock, state: ProductState): [StockReleased] {
  assertAdmin(command.metadata.caller, 'release stock');
  const { sku, orderId } = command.data;
  const held = requireProduct(state, sku).reservations[orderId];
  if (!held) throw new RuleViolationError(`Order ${orderId} holds no reservation of product ${sku}`);
  return [{ type: 'StockReleased', data: { sku, orderId, quantity: held.quantity, releasedAt: command.metadata.now.toISOString() } }];
}
