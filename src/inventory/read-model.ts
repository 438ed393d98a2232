// The Inventory read model (a drizzle table), owned by the `products` projection.
import { integer, pgTable, text, timestamp, index } from 'drizzle-orm/pg-core';
import { isoTime } from '../core/sql.ts';

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

/** A `products` row as the Product type shows it. */
export type ProductView = {
  sku: string;
  name: string;
  onHand: number;
  reserved: number;
  available: number;
  version: number;
  updatedAt: string;
};

export const PRODUCT_VIEW_COLUMN_LIST = [
  'sku',
  'name',
  'on_hand as "onHand"',
  'reserved',
  'on_hand - reserved as available',
  'version',
  `${isoTime('updated_at')} as "updatedAt"`,
].join(', ');
