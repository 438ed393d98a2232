// Personal data in events (crypto-shredding): a module marks the fields of an event type that are
// personal and whose they are (the subject); the event store seals them with the subject's key before
// anything is stored, and only a read at the edge opens them. Forgetting a subject destroys its key, so
// every sealed copy anywhere (events, read models, backups' later restores) reads as erased.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What an erased personal field reads as. */
export const ERASED = '[erased]';

/** The event a forget appends (on its subject's stream, in the transaction that destroys the keys): no personal data in it. */
export const PERSONAL_DATA_FORGOTTEN = 'PersonalDataForgotten';
export const PERSONAL_DATA_STREAM_TYPE = 'PersonalData';
export const forgottenStreamId = (subject: string) => `personal-data:${subject}`;
export type PersonalDataForgotten = { type: typeof PERSONAL_DATA_FORGOTTEN; data: { subject: string; forgottenAt: string } };

/** The personal fields of one event type: dotted paths into its data, and the data field naming their subject. */
export type PersonalFields = { subject: string; paths: readonly string[] };

/** A subject's data key: `id` is stored beside every value it sealed, `key` is 32 bytes for AES-256-GCM. */
export type DataKey = { id: string; key: Buffer };

/** Where keys come from: the subject's current key (made when it has none), and forgetting it. */
export type DataKeys = {
  keyFor(subject: string): Promise<DataKey>;
};

/** Opens sealed values at the edge: the clear text, or null when the key is gone (forgotten). */
export type PersonalDataReader = {
  open(sealed: string): Promise<string | null>;
};

const PREFIX = 'pd1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const isSealed = (value: unknown): value is string => typeof value === 'string' && value.startsWith(PREFIX);

/** The id of the key that sealed `value` (undefined when it is not sealed). */
export function keyIdOf(value: unknown): string | undefined {
  if (!isSealed(value)) return undefined;
  const end = value.indexOf('.', PREFIX.length);
  return end > 0 ? value.slice(PREFIX.length, end) : undefined;
}

// IVs are cut from a pool of random bytes refilled in one call: a randomBytes call per value cost ~10 µs
// on the bench machine, about as much as the cipher (docs/decisions/http-regression-and-peers.md).
const IV_POOL_BYTES = IV_BYTES * 256;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivOffset = 0;
  }
  // Each slice is used once: the pool is replaced, never refilled in place.
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** AES-256-GCM with a fresh IV; the key id is authenticated too, so a value cannot be moved under another key. */
export function sealValue(key: DataKey, clear: string): string {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(key.id));
  const body = Buffer.concat([iv, cipher.update(clear, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${PREFIX}${key.id}.${body.toString('base64url')}`;
}

/** The clear text of a value `key` sealed; throws when it was not (or was tampered with). */
export function openValue(key: DataKey, sealed: string): string {
  const body = Buffer.from(sealed.slice(PREFIX.length + key.id.length + 1), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key.key, body.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(key.id));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}

/** The subject of an event's personal fields (its data field, a non-empty string), or undefined. */
export function subjectOf(fields: PersonalFields, data: unknown): string | undefined {
  const subject = (data as Record<string, unknown> | null)?.[fields.subject];
  return typeof subject === 'string' && subject !== '' ? subject : undefined;
}

/** `data` with each clear string at `fields.paths` replaced by what `seal` makes of it (a copy; `data` is untouched). */
export function mapPersonal(data: unknown, fields: PersonalFields, seal: (value: string) => string): unknown {
  let result = data;
  for (const path of fields.paths) result = mapAt(result, path.split('.'), seal);
  return result;
}

function mapAt(node: unknown, path: readonly string[], seal: (value: string) => string): unknown {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  const [head, ...rest] = path as [string, ...string[]];
  const record = node as Record<string, unknown>;
  if (!(head in record)) return node;
  const value = record[head];
  const next = rest.length > 0 ? mapAt(value, rest, seal) : typeof value === 'string' && !isSealed(value) ? seal(value) : value;
  return next === value ? node : { ...record, [head]: next };
}

/** Opens the sealed strings among `record`'s fields: clear text, or ERASED with `erased: true` when a key is gone. */
export async function openRecord<T extends Record<string, unknown>>(
  record: T,
  reader: PersonalDataReader,
): Promise<T & { erased: boolean }> {
  const entries = await Promise.all(
    Object.entries(record).map(async ([name, value]) => [name, isSealed(value) ? await reader.open(value) : value] as const),
  );
  const erased = entries.some(([, value]) => value === null);
  return { ...Object.fromEntries(entries.map(([name, value]) => [name, value ?? ERASED])), erased } as T & { erased: boolean };
}

/**
 * The events with their personal fields sealed by their subjects' keys (one key fetch per subject). An
 * event of a marked type without a subject is refused: its personal data would have no key to forget.
 */
export async function sealEvents<E extends { type: string; data: unknown }>(
  events: readonly E[],
  personalOf: (type: string) => PersonalFields | undefined,
  keys: DataKeys,
): Promise<E[]> {
  const found = new Map<string, Promise<DataKey>>();
  return Promise.all(
    events.map(async (event) => {
      const fields = personalOf(event.type);
      if (!fields) return event;
      const subject = subjectOf(fields, event.data);
      if (subject === undefined) throw new Error(`${event.type} has personal fields but no ${fields.subject} to say whose they are`);
      let key = found.get(subject);
      if (!key) {
        key = keys.keyFor(subject);
        found.set(subject, key);
      }
      const dataKey = await key;
      return { ...event, data: mapPersonal(event.data, fields, (value) => sealValue(dataKey, value)) };
    }),
  );
}
