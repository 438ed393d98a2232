// The operations on data keys, on the suite's driver: the recorded migration that seals personal fields
// stored in clear before they were marked (the one rewrite of stored events), and the master key rotation.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealed } from '../../src/core/personal-data.ts';
import { ensureProjectionRow } from '../../src/infra/projections/projection-records.ts';
import { createDataKeyStore } from '../../src/infra/privacy/data-keys.ts';
import { masterKeys, TEST_DATA_KEY_SECRET } from '../../src/infra/privacy/master-key.ts';
import { rewrapDataKeys } from '../../src/infra/privacy/rotate.ts';
import { sealStoredEvents } from '../../src/infra/privacy/seal-stored-events.ts';
import { orderEventSchemas } from '../../src/orders/events.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';

const address = { line1: 'Old Clear Road 9', city: 'Plaintown', postalCode: 'PT 123', country: 'FR' };
const NEW_SECRET = 'a-new-master-secret-of-at-least-32-characters';

describe(`data keys on ${driverName}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.close());

  const created = (orderId: string, customerId: string) =>
    t.database.rows(sql`insert into events (tenant_id, stream_id, stream_type, version, type, schema_version, data, metadata)
      values ('default', ${orderId}, 'Order', 1, 'OrderCreated', 1, ${JSON.stringify({
        orderId,
        customerId,
        items: [{ productId: 'p-1', quantity: 1, unitPrice: '1.00' }],
        shippingAddress: address,
        createdAt: '2026-01-01T00:00:00.000Z',
      })}::jsonb, '{}'::jsonb)`);
  const addressOf = async (orderId: string) =>
    (await t.database.rows<{ a: typeof address }>(sql`select data->'shippingAddress' as a from events where stream_id = ${orderId}`))[0]!.a;

  it('seals the personal fields stored in clear once, recorded, and asks for a rebuild of the read models built from them', async () => {
    await created('legacy-1', 'legacy-c1');
    await created('legacy-2', 'legacy-c1');
    await created('legacy-3', 'legacy-c2');
    await ensureProjectionRow(t.database, 'orders');
    const masters = masterKeys(TEST_DATA_KEY_SECRET);

    expect(await sealStoredEvents(t.database, orderEventSchemas, masters, ['orders'])).toBe(3);
    const sealed = await addressOf('legacy-1');
    expect([sealed.line1, sealed.city, sealed.postalCode].every(isSealed)).toBe(true);
    expect(sealed.country).toBe('FR');
    const [text] = await t.database.rows<{ t: string }>(sql`select string_agg(data::text, ' ') as t from events`);
    expect(text!.t).not.toMatch(/Old Clear Road|Plaintown|PT 123/);
    const keys = await t.database.rows<{ subject: string }>(sql`select subject from data_keys order by subject`);
    expect(keys.map((k) => k.subject)).toEqual(['legacy-c1', 'legacy-c2']);
    const [projection] = await t.database.rows<{ state: string; rebuild_requested: boolean }>(
      sql`select state, rebuild_requested from projections where name = 'orders'`,
    );
    expect(projection).toEqual({ state: 'REBUILDING', rebuild_requested: true });

    const store = createDataKeyStore(t.database, masters);
    expect(await store.open(sealed.line1)).toBe(address.line1);
    // Recorded: a second start seals nothing, even an event stored in clear since (none can be, but it shows).
    await created('legacy-4', 'legacy-c3');
    expect(await sealStoredEvents(t.database, orderEventSchemas, masters, ['orders'])).toBe(0);
    expect((await addressOf('legacy-4')).line1).toBe(address.line1);
    await t.database.rows(sql`delete from events where stream_id = 'legacy-4'`);
  });

  it('rotates the master key: every data key re-wrapped, opened with the new secret alone, the old one no longer needed', async () => {
    const sealed = await addressOf('legacy-2');
    const rotating = masterKeys(NEW_SECRET, TEST_DATA_KEY_SECRET);
    expect(await rewrapDataKeys(t.database, rotating)).toBe(2);
    expect(await rewrapDataKeys(t.database, rotating)).toBe(0);
    const masters = await t.database.rows<{ master_id: string }>(sql`select distinct master_id from data_keys`);
    expect(masters).toEqual([{ master_id: rotating.current.id }]);
    expect(await createDataKeyStore(t.database, masterKeys(NEW_SECRET)).open(sealed.city)).toBe(address.city);
    await expect(createDataKeyStore(t.database, masterKeys(TEST_DATA_KEY_SECRET)).open(sealed.city)).rejects.toThrow(
      /DATA_KEY_SECRET_PREVIOUS/,
    );
  });
});
