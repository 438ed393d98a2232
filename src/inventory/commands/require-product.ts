// The product a command is about: NOT_FOUND when its stream has no events.
import { NotFoundError } from '../../core/errors.ts';
import type { ProductState } from '../product.ts';

export function requireProduct(state: ProductState, sku: string): Extract<ProductState, { status: 'ACTIVE' }> {
  if (state.status === 'NONE') throw new NotFoundError(`Product ${sku} not found`);
  return state;
}
