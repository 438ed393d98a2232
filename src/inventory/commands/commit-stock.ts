// CommitStock (internal, on shipping): the order's reserved units leave; on hand and reserved both drop.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { StockCommitted } from '../events.ts';
import type { ProductState } from '../product.ts';
import { requireProduct } from './require-product.ts';

export const commitStockInput = z.object({ commandId: commandId.optional(), sku: id, orderId: id });

export type CommitStock = Command<'CommitStock', Omit<z.output<typeof commitStockInput>, 'commandId'>>;

export function decideCommitStock(command: CommitStock, state: ProductState): [StockCommitted] {
  assertAdmin(command.metadata.caller, 'commit stock');
  const { sku, orderId } = command.data;
  const held = requireProduct(state, sku).reservations[orderId];
  if (!held) throw new RuleViolationError(`Order ${orderId} holds no reservation of product ${sku}`);
  return [{ type: 'StockCommitted', data: { sku, orderId, quantity: held.quantity, committedAt: command.metadata.now.toISOString() } }];
}
