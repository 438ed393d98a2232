// products(page, pageSize): every product by name, a page at a time (served by products_name_idx).
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { paging, toPage, type Page } from '../../core/input-fields.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { parseWith } from '../../core/validation.ts';
import { PRODUCTS_PROJECTION } from '../projections/products.ts';
import { PRODUCT_VIEW_COLUMN_LIST, type ProductView } from '../read-model.ts';

export const productsParams = z.object({ ...paging });
export type ProductsParams = z.input<typeof productsParams>;

const COLUMNS = sql.raw(PRODUCT_VIEW_COLUMN_LIST);

export const productsQuery: QueryDefinition<ProductsParams, Page<ProductView>> = {
  projections: [PRODUCTS_PROJECTION],
  create: ({ db }) =>
    async function products(params) {
      const { page, pageSize } = parseWith(productsParams, params);
      const [items, [count]] = await Promise.all([
        db.rows<ProductView>(sql`select ${COLUMNS} from products order by name, sku limit ${pageSize} offset ${(page - 1) * pageSize}`),
        db.rows<{ n: number }>(sql`select count(*)::int as n from products`),
      ]);
      return toPage(items, count?.n ?? 0, page, pageSize);
    },
};
