// Starts the services (buses, projections, tracker) on a test database, and checks read models against
// a fold of the event store from scratch.
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { createServices, type Services, type ServicesOptions } from '../../src/services.ts';
import type { StoredEvent } from '../../src/core/messages.ts';
import { START } from '../../src/core/position.ts';
import type { Database } from '../../src/infra/db/database.ts';
import type { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { ORDER_STREAM_TYPE, type OrderEvent } from '../../src/orders/events.ts';
import { ordersModule } from '../../src/orders/module.ts';
import { evolveOrderView, ORDER_VIEW_COLUMNS, type OrderView } from '../../src/orders/read-models/orders.ts';
import { command, createOrderInput } from './orders.ts';

/** Every module's services, as the server runs them. */
export async function startServices(database: Database, options: Partial<ServicesOptions> = {}): Promise<Services> {
  const services = createServices(database, {
    runProjections: true,
    consistencyTimeoutMs: 5000,
    projectionPollMs: 500,
    lockRetryMs: 200,
    ...options,
  });
  await services.start();
  return services;
}

/** The Orders module alone: for tests of the projection machinery on the reference domain. */
export const startOrderServices = (database: Database, options: Partial<ServicesOptions> = {}) =>
  startServices(database, { modules: [ordersModule], ...options });

export async function allEvents(store: PostgresEventStore): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let after = START; ; ) {
    const batch = await store.readAll(after, 5000);
    if (batch.length === 0) return events;
    events.push(...batch);
    after = batch.at(-1)!.position;
  }
}

/** The orders read model must equal a fold of every event from scratch. */
export async function expectOrdersMatchStore(database: Database, store: PostgresEventStore) {
  const expected = new Map<string, OrderView>();
  for (const event of (await allEvents(store)).filter((e) => e.streamType === ORDER_STREAM_TYPE) as StoredEvent<OrderEvent>[]) {
    expected.set(event.streamId, evolveOrderView(expected.get(event.streamId), event));
  }
  const rows = await database.rows<OrderView>(sql`select ${sql.raw(ORDER_VIEW_COLUMNS)} from orders order by id`);
  expect(rows.length).toBe(expected.size);
  const sorted = [...expected.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  expect(rows).toEqual(sorted);
}

export const createOrder = (services: Services, overrides: Record<string, unknown> = {}) =>
  services.commands.dispatch(command('CreateOrder', createOrderInput(overrides)));

export const addItem = (services: Services, orderId: string, productId = 'p-2', unitPrice = '1.00') =>
  services.commands.dispatch(command('AddOrderItem', { orderId, productId, quantity: 1, unitPrice }));
