// The `products` read model: one row per product with its stock on hand and reserved, the projection
// that keeps it, and the product and products queries (available = onHand - reserved).
import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { id, paging, type Page } from '../../core/input-fields.ts';
import { assertNever } from '../../core/messages.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { readPage } from '../../core/pages.ts';
import { defineSqlProjection, type HandledEvent, lookup } from '../../core/sql-projection.ts';
import { type RowOf, selectList } from '../../core/tables.ts';
import { parseWith } from '../../core/validation.ts';
import { PRODUCT_EVENT_TYPES, type ProductEvent } from '../events.ts';

export const PRODUCTS_PROJECTION = 'products';

export const products = pgTable(
  'products',
  {
    sku: text('sku').primaryKey(),
    name: text('name').notNull(),
    onHand: integer('on_hand').notNull(),
    reserved: integer('reserved').notNull(),
    version: integer('version').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (t) => [index('products_name_idx').on(t.name, t.sku)],
);

type ProductRow = RowOf<typeof products>;

/** A product as the Product type shows it. */
export type ProductView = ProductRow & { available: number };

const time = (event: ProductEvent) => {
  switch (event.type) {
    case 'ProductCreated':
      return event.data.createdAt;
    case 'ProductRestocked':
      return event.data.restockedAt;
    case 'StockReserved':
      return event.data.reservedAt;
    case 'StockReservationRejected':
      return event.data.rejectedAt;
    case 'StockReleased':
      return event.data.releasedAt;
    case 'StockCommitted':
      return event.data.committedAt;
    default:
      return assertNever(event, 'product event');
  }
};

export function evolveProductRow(product: ProductRow | undefined, event: HandledEvent<ProductEvent, ProductEvent['type']>): ProductRow {
  const at = { version: event.version, updatedAt: time(event) };
  if (event.type === 'ProductCreated') {
    const { sku, name, onHand } = event.data;
    return { sku, name, onHand, reserved: 0, ...at };
  }
  if (!product) throw new Error(`${event.type} for product ${event.streamId}, which the read model does not have`);
  let { onHand, reserved } = product;
  switch (event.type) {
    case 'ProductRestocked':
      onHand += event.data.quantity;
      break;
    case 'StockReserved':
      reserved += event.data.quantity;
      break;
    case 'StockReservationRejected':
      break;
    case 'StockReleased':
      reserved -= event.data.quantity;
      break;
    case 'StockCommitted':
      onHand -= event.data.quantity;
      reserved -= event.data.quantity;
      break;
    default:
      assertNever(event, 'product event');
  }
  return { ...product, onHand, reserved, ...at };
}

export const productsProjection = defineSqlProjection<ProductEvent>()({
  name: PRODUCTS_PROJECTION,
  handles: PRODUCT_EVENT_TYPES,
  tables: [products],
  lookups: {
    products: lookup(products, {
      key: products.sku,
      keys: [{ streamId: true, types: PRODUCT_EVENT_TYPES.filter((t) => t !== 'ProductCreated') }],
    }),
  },
  apply(events, { found, upsert }) {
    const changed = new Map<string, ProductRow>();
    for (const event of events) {
      changed.set(event.streamId, evolveProductRow(changed.get(event.streamId) ?? found.products.get(event.streamId), event));
    }
    upsert(products, [...changed.values()]);
  },
});

const PRODUCT_VIEW_COLUMNS = `${selectList(products)}, on_hand - reserved as available`;
const VIEW = sql.raw(PRODUCT_VIEW_COLUMNS);

export const productParams = z.object({ sku: id });
export type ProductParams = z.input<typeof productParams>;

/** product(sku): one product, or null. Any authenticated caller may read it. */
export const productQuery: QueryDefinition<ProductParams, ProductView | null> = {
  projections: [PRODUCTS_PROJECTION],
  create: ({ db }) =>
    async function product(params) {
      const { sku } = parseWith(productParams, params);
      const [row] = await db.rows<ProductView>(sql`select ${VIEW} from products where sku = ${sku}`);
      return row ?? null;
    },
};

export const productsParams = z.object({ ...paging });
export type ProductsParams = z.input<typeof productsParams>;

/** products(page, pageSize): every product by name, a page at a time (served by products_name_idx). */
export const productsQuery: QueryDefinition<ProductsParams, Page<ProductView>> = {
  projections: [PRODUCTS_PROJECTION],
  create: ({ db }) =>
    async function products(params) {
      const { page, pageSize } = parseWith(productsParams, params);
      return readPage<ProductView>(db, {
        columns: PRODUCT_VIEW_COLUMNS,
        from: sql`from products`,
        orderBy: sql`name, sku`,
        page,
        pageSize,
      });
    },
};

export const knownSkusParams = z.object({ skus: z.array(id).max(1000) });
export type KnownSkusParams = z.input<typeof knownSkusParams>;

/**
 * Which of the given stream ids are products `products` has (live queries ask after each of its advances,
 * which list every stream the step passed over, orders' too). The service's own question: admins only.
 */
export const knownSkusQuery: QueryDefinition<KnownSkusParams, string[]> = {
  projections: [PRODUCTS_PROJECTION],
  create: ({ db }) =>
    async function knownSkus(params, { caller }) {
      const { skus } = parseWith(knownSkusParams, params);
      assertAdmin(caller, 'list known products');
      const rows = await db.query<{ sku: string }>(
        'select sku from products where sku = any(array(select jsonb_array_elements_text($1::jsonb)))',
        [JSON.stringify(skus)],
      );
      return rows.map((row) => row.sku);
    },
};
