// CreateProduct (admin): a new product under its sku, with its stock on hand.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { ProductCreated } from '../events.ts';
import type { ProductState } from '../product.ts';
import { onHand, productName } from './fields.ts';

export const createProductInput = z.object({ commandId: commandId.optional(), sku: id, name: productName, onHand });

export type CreateProduct = Command<'CreateProduct', Omit<z.output<typeof createProductInput>, 'commandId'>>;

export function decideCreateProduct(command: CreateProduct, state: ProductState): [ProductCreated] {
  assertAdmin(command.metadata.caller, 'create products');
  const { sku, name, onHand } = command.data;
  if (state.status !== 'NONE') throw new RuleViolationError(`Product ${sku} already exists`);
  return [{ type: 'ProductCreated', data: { sku, name, onHand, createdAt: command.metadata.now.toISOString() } }];
}
