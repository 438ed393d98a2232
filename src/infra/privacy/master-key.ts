// The master key that wraps every subject's data key: derived from DATA_KEY_SECRET (HKDF-SHA256), with an
// id stored beside each wrapped key so that a rotation knows which secret wrapped it. In development on
// PGlite the secret is generated once into the data folder.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type MasterKey = { id: string; key: Buffer };

/** The current master key, and the one before it while a rotation is under way (DATA_KEY_SECRET_PREVIOUS). */
export type MasterKeys = { current: MasterKey; previous?: MasterKey };

/** Tests and library use without a configured secret: never a server's (config.ts requires one or generates one). */
export const TEST_DATA_KEY_SECRET = 'converge-test-only-data-key-secret-never-in-production';

export const SECRET_FILE = 'data-key-secret';

export function masterKey(secret: string): MasterKey {
  const key = Buffer.from(hkdfSync('sha256', secret, 'converge', 'data-key-wrapping', 32));
  const id = createHash('sha256').update('converge master id').update(key).digest('base64url').slice(0, 12);
  return { id, key };
}

export function masterKeys(secret: string, previous?: string): MasterKeys {
  return { current: masterKey(secret), ...(previous && { previous: masterKey(previous) }) };
}

/** The secret kept in the PGlite folder, made on first use (development only; memory:// gets a fresh one). */
export function developmentSecret(pgliteDir: string): string {
  if (pgliteDir.startsWith('memory://')) return randomBytes(32).toString('base64url');
  const file = join(pgliteDir, SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(pgliteDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

/** A data key wrapped (AES-256-GCM) by a master key: base64url of IV, ciphertext and tag. */
export function wrapKey(master: MasterKey, raw: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', master.key, iv);
  return Buffer.concat([iv, cipher.update(raw), cipher.final(), cipher.getAuthTag()]).toString('base64url');
}

export function unwrapKey(masters: MasterKeys, masterId: string, wrapped: string): Buffer {
  const master = [masters.current, masters.previous].find((m) => m?.id === masterId);
  if (!master) {
    throw new Error(
      `a data key is wrapped by master key ${masterId}, which neither DATA_KEY_SECRET nor DATA_KEY_SECRET_PREVIOUS is: set the secret it was wrapped with as DATA_KEY_SECRET_PREVIOUS`,
    );
  }
  const body = Buffer.from(wrapped, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', master.key, body.subarray(0, 12));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]);
}
