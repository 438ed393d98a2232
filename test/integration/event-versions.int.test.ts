// Event schema versions in real use: OrderCancelled is at version 2 (it records who cancelled); rows an
// older release wrote at version 1 are never rewritten, and read as version 2 everywhere: through the
// store, by a live projection, and by a rebuild.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { decodeToken, encodeToken } from '../../src/core/position.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, settle, type TestDatabase } from '../support/db.ts';
import { command } from '../support/orders.ts';
import { createOrder, expectOrdersMatchStore, startOrderServices } from '../support/services.ts';

describe(`event schema versions on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services;
  beforeAll(async () => {
    t = await createTestDatabase();
    services = await startOrderServices(t.database);
  });
  afterAll(async () => {
    await services.stop();
    await t.close();
  });

  const sys = { caller: SYSTEM_CALLER };
  const readAt = async (id: string) => {
    await settle(t.database);
    const head = encodeToken((await services.store.headPosition())!);
    const consistency = { after: decodeToken(head), stale: false };
    const order = await services.queries.execute('order', { id }, { ...sys, consistency });
    expect(consistency.stale).toBe(false);
    return order;
  };

  it('a version 1 OrderCancelled reads as version 2 through the store, a live projection and a rebuild', async () => {
    const old = await createOrder(services, { customerId: 'c-1' });
    const v1 = { orderId: old.streamId, reason: 'written by an older release', cancelledAt: '2025-06-01T12:00:00.000Z' };
    await t.database.rows(sql`insert into events (stream_id, stream_type, version, type, schema_version, data)
      values (${old.streamId}, 'Order', 2, 'OrderCancelled', 1, ${JSON.stringify(v1)}::jsonb)`);
    const alice = { userId: 'alice', roles: ['customer' as const] };
    const current = await createOrder(services, { customerId: 'alice' });
    await services.commands.dispatch(command('CancelOrder', { orderId: current.streamId, reason: 'changed my mind' }, { caller: alice }));

    const { events } = await services.store.readStream(old.streamId);
    expect(events[1]).toMatchObject({ type: 'OrderCancelled', schemaVersion: 2, data: { ...v1, cancelledBy: null } });
    expect((await services.store.readStream(current.streamId)).events[1]).toMatchObject({
      schemaVersion: 2,
      data: { cancelledBy: 'alice' },
    });

    const live = [await readAt(old.streamId), await readAt(current.streamId)];
    expect(live.map((o) => [o?.status, o?.cancelReason, o?.cancelledBy])).toEqual([
      ['CANCELLED', v1.reason, null],
      ['CANCELLED', 'changed my mind', 'alice'],
    ]);

    // The live rows spoiled first: only a rebuild that read the events again can bring them back.
    await t.database.rows(sql`update orders set cancel_reason = 'spoiled', cancelled_by = 'nobody'`);
    await services.admin.rebuild('orders', SYSTEM_CALLER);
    let status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
    for (let i = 0; i < 400 && !(status.state === 'RUNNING' && status.rebuildPosition === null); i++) {
      await new Promise((r) => setTimeout(r, 25));
      status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
    }
    expect(status).toMatchObject({ state: 'RUNNING', rebuildPosition: null });
    expect([await readAt(old.streamId), await readAt(current.streamId)]).toEqual(live);
    await expectOrdersMatchStore(t.database, services.store);

    // Stored events are never rewritten: the old row is still at version 1.
    const [row] = await t.database.rows<{ v: number }>(
      sql`select schema_version as v from events where stream_id = ${old.streamId} and version = 2`,
    );
    expect(row!.v).toBe(1);
  });
});
