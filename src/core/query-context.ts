// What every query runs with: who asks, and what it must wait for before reading (read-your-writes).
import type { Caller } from './caller.ts';
import type { Position } from './position.ts';

/**
 * The token to wait for, whether the wait timed out, a signal that ends the wait (the client left), and
 * where the token came from (the path of the error that refuses it; `after` by default).
 */
export type ConsistencyContext = { after?: Position; stale?: boolean; signal?: AbortSignal; path?: readonly (string | number)[] };

export type QueryContext = { caller: Caller; consistency?: ConsistencyContext };
