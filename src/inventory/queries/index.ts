// The Inventory queries by name, each with the projections it reads.
import type { QueryTypes } from '../../core/module.ts';
import { productQuery } from './product.ts';
import { productsQuery } from './products.ts';

export const productQueries = { product: productQuery, products: productsQuery };

export type ProductQueries = QueryTypes<typeof productQueries>;
