// The `products` projection: one row per product with its stock on hand, reserved and available.
import { assertNever, type StoredEvent } from '../../core/messages.ts';
import { defineSqlProjection, lookup } from '../../core/sql-projection.ts';
import { PRODUCT_EVENT_TYPES, type ProductEvent } from '../events.ts';
import { PRODUCT_VIEW_COLUMN_LIST, type ProductView } from '../read-model.ts';

export const PRODUCTS_PROJECTION = 'products';

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

export function evolveProductView(product: ProductView | undefined, event: StoredEvent<ProductEvent>): ProductView {
  const at = { version: event.version, updatedAt: time(event) };
  if (event.type === 'ProductCreated') {
    const { sku, name, onHand } = event.data;
    return { sku, name, onHand, reserved: 0, available: onHand, ...at };
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
  return { ...product, onHand, reserved, available: onHand - reserved, ...at };
}

export const productsProjection = defineSqlProjection({
  name: PRODUCTS_PROJECTION,
  handles: new Set(PRODUCT_EVENT_TYPES),
  tables: ['products'],
  lookups: {
    products: lookup<ProductView>({
      table: 'products',
      key: 'sku',
      columns: PRODUCT_VIEW_COLUMN_LIST,
      keys: [{ streamId: true, types: PRODUCT_EVENT_TYPES.filter((t) => t !== 'ProductCreated') }],
    }),
  },
  apply(events, { found, upsert }) {
    const changed = new Map<string, ProductView>();
    for (const event of events as StoredEvent<ProductEvent>[]) {
      changed.set(event.streamId, evolveProductView(changed.get(event.streamId) ?? found.products.get(event.streamId), event));
    }
    upsert(
      'products',
      'sku',
      [...changed.values()].map((p) => ({
        sku: p.sku,
        name: p.name,
        on_hand: p.onHand,
        reserved: p.reserved,
        version: p.version,
        updated_at: p.updatedAt,
      })),
    );
  },
});
