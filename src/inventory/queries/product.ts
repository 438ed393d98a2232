// product(sku): one product from the `products` read model, or null. Any authenticated caller may read it.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { id } from '../../core/input-fields.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { parseWith } from '../../core/validation.ts';
import { PRODUCTS_PROJECTION } from '../projections/products.ts';
import { PRODUCT_VIEW_COLUMN_LIST, type ProductView } from '../read-model.ts';

export const productParams = z.object({ sku: id });
export type ProductParams = z.input<typeof productParams>;

const COLUMNS = sql.raw(PRODUCT_VIEW_COLUMN_LIST);

export const productQuery: QueryDefinition<ProductParams, ProductView | null> = {
  projections: [PRODUCTS_PROJECTION],
  create: ({ db }) =>
    async function product(params) {
      const { sku } = parseWith(productParams, params);
      const [row] = await db.rows<ProductView>(sql`select ${COLUMNS} from products where sku = ${sku}`);
      return row ?? null;
    },
};
