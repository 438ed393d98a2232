// ReserveStock (internal, sent by the fulfilment process): sets `quantity` aside for an order line, or
// records that it could not be (available is never below 0). Each line is reserved at most once.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { StockReservationRejected, StockReserved } from '../events.ts';
import { reservedOf, type ProductState } from '../product.ts';
import { lineId, stockQuantity } from './fields.ts';
import { requireProduct } from './require-product.ts';

export const reserveStockInput = z.object({ commandId: commandId.optional(), sku: id, orderId: id, line: lineId, quantity: stockQuantity });

export type ReserveStock = Command<'ReserveStock', Omit<z.output<typeof reserveStockInput>, 'commandId'>>;

export function decideReserveStock(command: ReserveStock, state: ProductState): [StockReserved | StockReservationRejected] {
  assertAdmin(command.metadata.caller, 'reserve stock');
  const { sku, orderId, line, quantity } = command.data;
  const product = requireProduct(state, sku);
  if (product.reservations[orderId]?.lines.includes(line)) {
    throw new RuleViolationError(`Line ${line} of order ${orderId} already holds a reservation of product ${sku}`);
  }
  const at = command.metadata.now.toISOString();
  const available = product.onHand - reservedOf(product.reservations);
  if (quantity > available) {
    return [{ type: 'StockReservationRejected', data: { sku, orderId, line, quantity, available, rejectedAt: at } }];
  }
  return [{ type: 'StockReserved', data: { sku, orderId, line, quantity, reservedAt: at } }];
}
