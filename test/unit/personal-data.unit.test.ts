// The sealing of personal fields (core/personal-data.ts) and the master key that wraps data keys
// (infra/privacy/master-key.ts): what is sealed, that only its key opens it, and what reads as erased.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type DataKey,
  ERASED,
  isSealed,
  keyIdOf,
  mapPersonal,
  openRecord,
  openValue,
  sealEvents,
  sealValue,
} from '../../src/core/personal-data.ts';
import type { StoredEvent } from '../../src/core/messages.ts';
import { START } from '../../src/core/position.ts';
import { toCloudEvent } from '../../src/core/public-events.ts';
import { developmentSecret, masterKey, masterKeys, SECRET_FILE, unwrapKey, wrapKey } from '../../src/infra/privacy/master-key.ts';

const key = (id = 'k1'): DataKey => ({ id, key: randomBytes(32) });
const fields = { subject: 'customerId', paths: ['shippingAddress.line1', 'shippingAddress.city'] };

describe('personal data', () => {
  it('seals with AES-256-GCM: a fresh IV each time, only its key opens it, tampering is refused', () => {
    const k = key();
    const a = sealValue(k, 'Privet Drive 4');
    const b = sealValue(k, 'Privet Drive 4');
    expect(a).not.toBe(b);
    expect(a).not.toContain('Privet');
    expect(isSealed(a)).toBe(true);
    expect(keyIdOf(a)).toBe('k1');
    expect(openValue(k, a)).toBe('Privet Drive 4');
    expect(() => openValue(key(), a)).toThrow();
    expect(() => openValue({ ...k, id: 'k2' }, a.replace('pd1.k1.', 'pd1.k2.'))).toThrow(); // the key id is authenticated
    const flipped = `${a.slice(0, -2)}${a.at(-2) === 'A' ? 'B' : 'A'}${a.at(-1)}`;
    expect(() => openValue(k, flipped)).toThrow();
  });

  it('never repeats an IV, across refills of the pool the IVs are cut from', () => {
    const k = key();
    const sealed = Array.from({ length: 1000 }, () => sealValue(k, 'x'));
    // The IV is the first 12 bytes of the body after "pd1.<key id>.".
    const ivs = new Set(sealed.map((s) => Buffer.from(s.slice('pd1.k1.'.length), 'base64url').subarray(0, 12).toString('hex')));
    expect(ivs.size).toBe(sealed.length);
    for (const s of sealed.slice(-3)) expect(openValue(k, s)).toBe('x');
  });

  it('seals only the marked paths, leaves the data given untouched, and never seals twice', () => {
    const data = { customerId: 'c-1', shippingAddress: { line1: 'Elm St 1', city: 'Springfield', country: 'US' }, items: [] };
    const sealed = mapPersonal(data, fields, (v) => `pd1.k.${v.length}`) as typeof data;
    expect(sealed.shippingAddress).toEqual({ line1: 'pd1.k.8', city: 'pd1.k.11', country: 'US' });
    expect(data.shippingAddress.line1).toBe('Elm St 1');
    expect(mapPersonal(sealed, fields, () => 'again')).toBe(sealed);
    expect(mapPersonal({ customerId: 'c-1' }, fields, () => 'x')).toEqual({ customerId: 'c-1' });
  });

  it('sealEvents fetches one key per subject and refuses a marked event without a subject', async () => {
    const asked: string[] = [];
    const keys = {
      keyFor: async (subject: string) => {
        asked.push(subject);
        return key(`k-${subject}`);
      },
    };
    const event = (customerId: string) => ({ type: 'OrderCreated', data: { customerId, shippingAddress: { line1: 'x', city: 'y' } } });
    const personalOf = (type: string) => (type === 'OrderCreated' ? fields : undefined);
    const out = await sealEvents([event('a'), event('a'), event('b'), { type: 'Other', data: {} }], personalOf, keys);
    expect(asked).toEqual(['a', 'b']);
    expect(keyIdOf((out[2]!.data as any).shippingAddress.city)).toBe('k-b');
    expect(out[3]).toEqual({ type: 'Other', data: {} });
    await expect(sealEvents([{ type: 'OrderCreated', data: {} }], personalOf, keys)).rejects.toThrow(/no customerId/);
  });

  it('openRecord opens what its key still opens and erases the rest', async () => {
    const k = key();
    const record = { line1: sealValue(k, 'Elm St 1'), city: sealValue(k, 'Springfield'), country: 'US' };
    expect(await openRecord(record, { open: async (v) => openValue(k, v) })).toEqual({
      line1: 'Elm St 1',
      city: 'Springfield',
      country: 'US',
      erased: false,
    });
    expect(await openRecord(record, { open: async () => null })).toEqual({ line1: ERASED, city: ERASED, country: 'US', erased: true });
  });

  it('wraps data keys with the master key; a previous master unwraps during a rotation; an unknown one says what to set', () => {
    const raw = randomBytes(32);
    const old = masterKey('o'.repeat(40));
    const wrapped = wrapKey(old, raw);
    expect(unwrapKey(masterKeys('n'.repeat(40), 'o'.repeat(40)), old.id, wrapped)).toEqual(raw);
    expect(() => unwrapKey(masterKeys('n'.repeat(40)), old.id, wrapped)).toThrow(/DATA_KEY_SECRET_PREVIOUS/);
    expect(masterKey('o'.repeat(40)).id).toBe(old.id);
  });

  it('generates the development secret once into the PGlite folder, readable by its owner only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'converge-secret-'));
    try {
      const secret = developmentSecret(join(dir, 'pglite'));
      expect(secret.length).toBeGreaterThanOrEqual(32);
      expect(developmentSecret(join(dir, 'pglite'))).toBe(secret);
      expect(readFileSync(join(dir, 'pglite', SECRET_FILE), 'utf8').trim()).toBe(secret);
      expect(statSync(join(dir, 'pglite', SECRET_FILE)).mode & 0o077).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a public event whose shape carries a sealed personal field, naming the field', () => {
    const data = { customerId: 'c-1', shippingAddress: { line1: sealValue(key(), 'Elm St 1'), country: 'US' } };
    const event = {
      type: 'OrderCreated',
      data,
      streamId: 'o-1',
      streamType: 'Order',
      position: START,
      createdAt: 'now',
      metadata: {},
    } as unknown as StoredEvent;
    const publication = (shape: (e: StoredEvent) => Record<string, unknown>) => ({
      subject: 'converge.orders.created',
      typeSuffix: 'created.v1',
      source: '/converge/orders',
      event: { name: 'created', version: 1, data: shape },
    });
    expect(() =>
      toCloudEvent(
        event,
        publication((e) => ({ address: (e.data as typeof data).shippingAddress })),
      ),
    ).toThrow(/OrderCreated's public shape carries a personal field \(data\.address\.line1\)/);
    expect(
      toCloudEvent(
        event,
        publication((e) => ({ country: (e.data as typeof data).shippingAddress.country })),
      ).data,
    ).toEqual({
      country: 'US',
    });
  });
});
