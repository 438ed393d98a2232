// The data keys of subjects (customers): one live key per subject and tenant in `data_keys`, wrapped by
// the master key. Sealing takes the subject's key from a per-process cache (evicted when any process
// forgets the subject: see forget.ts); opening re-reads which keys still exist on every call, batched per
// tick, and caches only the unwrapped bytes by key id, which never change (docs/decisions/privacy.md).
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createMicroBatcher } from '../../core/micro-batch.ts';
import { type DataKey, type DataKeys, keyIdOf, openValue, type PersonalDataReader } from '../../core/personal-data.ts';
import type { Executor } from '../../core/sql.ts';
import { tenantKey, tenantOrDefault } from '../../core/tenancy.ts';
import { type MasterKeys, unwrapKey, wrapKey } from './master-key.ts';

/** Unwrapped keys kept per process (32 bytes each, plus the map's overhead). */
const CACHED_KEYS = 50_000;

type KeyRow = { key_id: string; master_id: string; wrapped_key: string };

const KEY_FOR = `with made as (
    insert into data_keys (tenant_id, key_id, subject, master_id, wrapped_key) values ($1, $2, $3, $4, $5)
    on conflict (tenant_id, subject) do nothing
    returning key_id, master_id, wrapped_key)
  select key_id, master_id, wrapped_key from made
  union all
  select key_id, master_id, wrapped_key from data_keys where tenant_id = $1 and subject = $3
  limit 1`;

const LIVE_KEYS = `select key_id, master_id, wrapped_key from data_keys
  where tenant_id = $1 and key_id = any(array(select jsonb_array_elements_text($2::jsonb)))`;

export type DataKeyStore = DataKeys &
  PersonalDataReader & {
    /** Drops the cached keys of a subject another process (or this one) forgot. */
    evict(tenant: string, subject: string, keyIds: readonly string[]): void;
    /** Drops every cached sealing key (after the forget notifications' listener reconnected: some may be lost). */
    evictAll(): void;
  };

export function createDataKeyStore(db: Executor, masters: MasterKeys): DataKeyStore {
  const current = new LRUCache<string, Promise<DataKey>>({ max: CACHED_KEYS });
  const unwrapped = new LRUCache<string, Buffer>({ max: CACHED_KEYS });
  const unwrap = (row: KeyRow): DataKey => {
    let key = unwrapped.get(row.key_id);
    if (!key) unwrapped.set(row.key_id, (key = unwrapKey(masters, row.master_id, row.wrapped_key)));
    return { id: row.key_id, key };
  };

  const fetchKey = async (tenant: string, subject: string): Promise<DataKey> => {
    // A concurrent maker's row may be invisible to this statement's snapshot: the next try sees it.
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = randomBytes(32);
      const id = randomBytes(16).toString('base64url');
      const [row] = await db.query<KeyRow>(KEY_FOR, [tenant, id, subject, masters.current.id, wrapKey(masters.current, raw)]);
      if (row) return unwrap(row);
    }
    throw new Error(`no data key could be made for a subject of tenant ${tenant}`);
  };

  // Which of the keys asked for exist now: asked of the database each time, so a forgotten key is never used.
  const liveKeys = createMicroBatcher(async (ids: readonly string[]) => {
    const rows = await db.query<KeyRow>(LIVE_KEYS, [tenantOrDefault(), JSON.stringify([...new Set(ids)])]);
    const found = new Map(rows.map((row) => [row.key_id, row]));
    return ids.map((id) => {
      const row = found.get(id);
      return row ? unwrap(row) : null;
    });
  });

  return {
    keyFor(subject) {
      const tenant = tenantOrDefault();
      const cacheKey = tenantKey(tenant, subject);
      let key = current.get(cacheKey);
      if (!key) {
        key = fetchKey(tenant, subject);
        current.set(cacheKey, key);
        key.catch(() => current.get(cacheKey) === key && current.delete(cacheKey));
      }
      return key;
    },
    async open(sealed) {
      const id = keyIdOf(sealed);
      if (id === undefined) return sealed;
      const key = await liveKeys(id);
      return key ? openValue(key, sealed) : null;
    },
    evict(tenant, subject, keyIds) {
      current.delete(tenantKey(tenant, subject));
      for (const id of keyIds) unwrapped.delete(id);
    },
    evictAll() {
      current.clear();
    },
  };
}
