// The Product decider: each command's decide behind one exhaustive switch.
import type { Decider } from '../core/decider.ts';
import { assertNever } from '../core/messages.ts';
import { decideCommitStock, type CommitStock } from './commands/commit-stock.ts';
import { decideCreateProduct, type CreateProduct } from './commands/create-product.ts';
import { decideReleaseStock, type ReleaseStock } from './commands/release-stock.ts';
import { decideReserveStock, type ReserveStock } from './commands/reserve-stock.ts';
import { decideRestockProduct, type RestockProduct } from './commands/restock-product.ts';
import type { ProductEvent } from './events.ts';
import { evolve, initialState, type ProductState } from './product.ts';

export type ProductCommand = CreateProduct | RestockProduct | ReserveStock | ReleaseStock | CommitStock;

export function decide(command: ProductCommand, state: ProductState): ProductEvent[] {
  switch (command.type) {
    case 'CreateProduct':
      return decideCreateProduct(command, state);
    case 'RestockProduct':
      return decideRestockProduct(command, state);
    case 'ReserveStock':
      return decideReserveStock(command, state);
    case 'ReleaseStock':
      return decideReleaseStock(command, state);
    case 'CommitStock':
      return decideCommitStock(command, state);
    default:
      return assertNever(command, 'product command');
  }
}

export const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = { decide, evolve, initialState };
