// What every resolver receives: the services it dispatches to, the caller, and the request's own state.
import type { Caller } from '../core/caller.ts';
import type { CommandResult } from '../core/command-handler.ts';
import type { ConsistencyWaits } from '../core/consistency-middleware.ts';
import type { ConsistencyTracker } from '../core/consistency-tracker.ts';
import type { Logger } from '../core/logger.ts';
import type { Command } from '../core/messages.ts';
import type { Position } from '../core/position.ts';
import type { ProjectionAdmin } from '../core/projection.ts';
import type { QueryBus, QueryMap } from '../core/query-bus.ts';
import type { QueryContext } from '../core/query-context.ts';
import type { StreamChanges } from '../core/stream-changes.ts';
import type { Span } from '../core/tracing.ts';

/** The services behind the schema (built by the composition root). */
export type GraphQLServices = {
  commands: { dispatch(command: Command): Promise<CommandResult> };
  queries: QueryBus<QueryMap, QueryContext>;
  tracker: ConsistencyTracker;
  /** Which streams each projection advance covered, shared by the subscriptions of this process. */
  changes: StreamChanges;
  /** Refuses a token ahead of the event log (BAD_USER_INPUT). */
  consistency: Pick<ConsistencyWaits, 'check'>;
  admin: ProjectionAdmin;
  /** Every projection's name, whichever process runs it. */
  projectionNames: readonly string[];
  /** The position of the last event visible now (null: none yet). */
  headPosition(): Promise<Position | null>;
  /** Personal data: sealed values opened at the edge, and forgetting a subject (docs/decisions/privacy.md). */
  personal: {
    open(sealed: string, caller: Caller): Promise<string | null>;
    forget(subject: string, caller: Caller, now: Date): Promise<Position>;
  };
  /** The replicas queries read on, where there are any (DATABASE_REPLICA_URLS). */
  replicas?: { status(): readonly ReplicaView[] };
};

/** A replica as the operator sees it: `name` is host:port/database; `lagMs` null when unknown; why it is out. */
export type ReplicaView = { name: string; state: string; lagMs: number | null; reason?: string };

export type GraphQLContext = {
  services: GraphQLServices;
  caller: Caller;
  requestId: string;
  /** The request's logger: every line carries the request id. */
  log: Logger;
  /** Aborts when the client goes away (HTTP request closed, WebSocket operation completed or socket closed). */
  signal?: AbortSignal;
  /** Over HTTP with tracing on: the request's span, which becomes the operation's (see yoga.ts). */
  requestSpan?: Span;
  /** Counts an open subscription until the returned function is called. */
  subscriptionOpened(name: string): () => void;
  /** The request's read-your-writes state (see consistency.ts). */
  consistency: RequestConsistency;
  /** Present while a live query runs: records what it reads (see live-sources.ts). */
  live?: LiveRecorder;
};

/** Records the read-model keys a live query's run reads, by projection (watchLive calls it). */
export type LiveRecorder = { watch(projection: string, key: string): void };

export type RequestConsistency = {
  /** The request's own token (extensions.consistency.after): every read without an `after:` waits for it. */
  session?: Position;
  /** What the response's extensions.consistency.token covers: the session token and every command run. */
  token?: Position;
  /** A wait timed out: the response says so. */
  stale: boolean;
  /** The token each object a waiting read returned was read at (its fields read at least that fresh). */
  readAt: WeakMap<object, Position>;
};

/** The query bus typed with a module's own queries. */
export const queriesOf = <Q extends QueryMap>(ctx: Pick<GraphQLContext, 'services'>) =>
  ctx.services.queries as unknown as QueryBus<Q, QueryContext>;
