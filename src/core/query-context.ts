// What every query runs with: who asks, and what it must wait for before reading (read-your-writes).
import type { Caller } from './caller.ts';
import type { Position } from './position.ts';

/** The token to wait for, whether the wait timed out, and a signal that ends the wait (the client left). */
export type ConsistencyContext = { after?: Position; stale?: boolean; signal?: AbortSignal };

export type QueryContext = { caller: Caller; consistency?: ConsistencyContext };
