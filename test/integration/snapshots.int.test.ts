// Snapshots on the database: a product's stream gets one as it crosses each hundred events, a cold
// command starts from it and reads only the events after it, and a snapshot of another decider version,
// or one whose version the stream does not have, is ignored; decisions are the same either way.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { createCommandBus } from '../../src/core/command-bus.ts';
import type { CommandResult } from '../../src/core/command-handler.ts';
import { parseCommand } from '../../src/core/command-input.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import type { Command } from '../../src/core/messages.ts';
import { registerAggregate } from '../../src/core/module.ts';
import { createPostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { createSnapshotStore } from '../../src/infra/event-store/snapshot-store.ts';
import type { ProductCommand } from '../../src/inventory/decider.ts';
import { productAggregate } from '../../src/inventory/product-aggregate.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';

describe(`snapshots on ${driverName}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.close());

  /** A command bus for products alone; `reads` records each stream read (its first version). */
  const bus = (options: { stateCacheSize?: number } = {}) => {
    const store = createPostgresEventStore({ db: t.database });
    const reads: number[] = [];
    const counting: EventStore = {
      ...store,
      readStream: (streamId, from) => {
        reads.push(from ?? 1);
        return store.readStream(streamId, from);
      },
    };
    const commands = createCommandBus<Command, CommandResult>();
    registerAggregate(commands, productAggregate, { store: counting, snapshots: createSnapshotStore(t.database), ...options });
    const send = <T extends ProductCommand['type']>(type: T, input: Record<string, unknown>) =>
      commands.dispatch(
        parseCommand<ProductCommand, T>(productAggregate.inputs, type, { sku: 'kettle', ...input }, { caller: SYSTEM_CALLER }),
      );
    return { send, reads };
  };
  const snapshot = async () =>
    (
      await t.database.rows<{ version: number; decider_version: number }>(
        sql`select version, decider_version from snapshots where stream_id = 'kettle'`,
      )
    )[0];

  it('crossing each hundred events writes one; a cold command starts there; another decider version or a missing version is ignored', async () => {
    const warm = bus();
    await warm.send('CreateProduct', { name: 'Kettle', onHand: 1000 });
    for (let i = 0; i < 125; i++) await warm.send('ReserveStock', { orderId: `o-${i}`, line: `o-${i}@1`, quantity: 1 });
    for (let i = 0; i < 90; i++) await warm.send('ReleaseStock', { orderId: `o-${i}` });
    // 216 events: the newest snapshot is at 200 (written beside the commands, so wait for it).
    for (let i = 0; (await snapshot())?.version !== 200 && i < 200; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await snapshot()).toEqual({ version: 200, decider_version: 1 });

    // Cold: no cached state. It reads from version 200 on, and decides as on the whole stream.
    const cold = bus({ stateCacheSize: 0 });
    await expect(cold.send('ReserveStock', { orderId: 'o-0', line: 'o-0@2', quantity: 965 })).resolves.toMatchObject({
      version: 217,
      events: [{ type: 'StockReserved' }],
    });
    await expect(cold.send('ReserveStock', { orderId: 'o-200', line: 'o-200@1', quantity: 1 })).resolves.toMatchObject({
      events: [{ type: 'StockReservationRejected', data: { available: 0 } }],
    });
    expect(cold.reads).toEqual([200, 200]);

    // A snapshot of another decider version, or one at a version the stream does not have: a whole read.
    await t.database.rows(sql`update snapshots set decider_version = 0 where stream_id = 'kettle'`);
    await cold.send('ReleaseStock', { orderId: 'o-100' });
    await t.database.rows(
      sql`update snapshots set decider_version = 1, version = 9999, state = '{"status":"NONE"}' where stream_id = 'kettle'`,
    );
    await expect(cold.send('ReleaseStock', { orderId: 'o-101' })).resolves.toMatchObject({
      events: [{ type: 'StockReleased', data: { quantity: 1 } }],
    });
    expect(cold.reads.slice(2)).toEqual([1, 9999, 1]);
  });
});
