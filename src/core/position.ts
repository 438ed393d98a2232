// Global positions and the consistency tokens that carry them to clients.
//
// The global order of events is (transaction_id, global_position) (docs/architecture.md, Event store and ordering). Both are int8 in
// PostgreSQL, so they live here as bigint and never pass through a JS number.
import { ValidationError } from './errors.ts';

export type Position = { readonly tx: bigint; readonly pos: bigint };

export const START: Position = Object.freeze({ tx: 0n, pos: 0n });

export function comparePositions(a: Position, b: Position): -1 | 0 | 1 {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.pos !== b.pos) return a.pos < b.pos ? -1 : 1;
  return 0;
}

export const isAtOrAfter = (a: Position, b: Position): boolean => comparePositions(a, b) >= 0;

export const maxPosition = (a: Position, b: Position): Position => (comparePositions(a, b) >= 0 ? a : b);

// "c1." + base-36 tx + "." + base-36 pos: short, URL-safe, versioned so the format can change.
const TOKEN = /^c1\.([0-9a-z]{1,13})\.([0-9a-z]{1,13})$/;
const INT8_MAX = (1n << 63n) - 1n;
// xid8 is unsigned 64-bit; global_position is a signed int8.
const UINT8_MAX = (1n << 64n) - 1n;

export function encodeToken(p: Position): string {
  return `c1.${p.tx.toString(36)}.${p.pos.toString(36)}`;
}

function parseBase36(digits: string): bigint {
  let n = 0n;
  for (const ch of digits) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}

/** Parses a consistency token; a malformed one is BAD_USER_INPUT naming `path`. */
export function decodeToken(token: string, path: (string | number)[] = ['after']): Position {
  const m = TOKEN.exec(token);
  if (m) {
    const tx = parseBase36(m[1]!);
    const pos = parseBase36(m[2]!);
    if (tx <= UINT8_MAX && pos <= INT8_MAX) return { tx, pos };
  }
  throw new ValidationError([{ path, message: 'is not a consistency token returned by this service' }]);
}

export function positionFromDb(tx: string, pos: string): Position {
  return { tx: BigInt(tx), pos: BigInt(pos) };
}
