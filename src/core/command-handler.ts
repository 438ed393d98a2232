// Turns a decider into a command handler: read the stream, fold, decide, append at the version read. It
// owns the command-side guarantees (docs/architecture.md, The command path): idempotency by commandId
// and, for commands without an expected version, a bounded retry on a fresh read when another writer got
// there first. A cache of recently written streams' states saves the read; correctness never rests on it.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Decider } from './decider.ts';
import { ConcurrencyConflictError, IdempotencyConflictError, isDecided, RuleViolationError, UnavailableError } from './errors.ts';
import { DuplicateCommandError, type CommandRecord, type EventStore, type ExpectedVersion } from './event-store.ts';
import type { Command, CommandMetadata, Event, StoredEvent } from './messages.ts';
import { encodeToken, type Position } from './position.ts';
import { createKeyedLock, type KeyedLock } from './keyed-lock.ts';
import { tenantKey, tenantOrDefault } from './tenancy.ts';
import { crossesSnapshot, type Snapshot, type SnapshotPolicy, type SnapshotStore } from './snapshots.ts';
import { noTracing, type Span, type Tracing } from './tracing.ts';

export type CommandResult = {
  streamId: string;
  /** The stream's version after the command. */
  version: number;
  /** The position of the last event the command appended. */
  position: Position;
  consistencyToken: string;
  /** What it appended (for a repeat: what the first run appended). */
  events: readonly Event[];
};

export type RetryPolicy = {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Upper bound of the random delay before attempt n is min(maxDelayMs, baseDelayMs * 2^(n-1)). */
  baseDelayMs: number;
  maxDelayMs: number;
};

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 20, baseDelayMs: 2, maxDelayMs: 100 };

export type DeciderHandlerSpec<C extends Command, E extends Event, S> = {
  decider: Decider<C, E, S>;
  streamType: string;
  streamId(command: C): string;
  /** Commands that start a new stream: nothing to read, and the stream must not exist yet. */
  createsStream?(command: C): boolean;
  /**
   * Streams a command's decision reads besides its own, written by process managers that react to its
   * stream (an order's fulfilment, say): the handler waits until those have handled the stream's last
   * event (deps.awaitReactions), then folds their events after the stream's, and says on the command's
   * metadata whether they had (`reactions`). Only the command's own stream is appended to and versioned.
   */
  relatedStreams?(command: C): readonly string[];
  /** Snapshots of the state of its long streams (see snapshots.ts); the state must survive a JSON round trip. */
  snapshots?: SnapshotPolicy;
};

export type CommandHandlerDeps = {
  store: EventStore;
  retry?: RetryPolicy;
  /** Shared per process, so that commands on one stream take turns here instead of in the database. */
  streamLock?: KeyedLock;
  /** Told about every retry, for metrics and for tests that must see the retry happen. */
  onRetry?: (info: { streamId: string; attempt: number; error: ConcurrencyConflictError }) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Streams whose state the handler keeps after writing them (least recently used go first); 0: none. */
  stateCacheSize?: number;
  /**
   * Resolves true once every process manager that handles any of `eventTypes` has handled the event at
   * `after`, false when that takes too long (see relatedStreams). Without it, reactions count as settled.
   */
  awaitReactions?(after: Position, eventTypes: readonly string[]): Promise<boolean>;
  /** Where aggregates that opt in keep snapshots; without it none are read or written. */
  snapshots?: SnapshotStore;
  /** Spans for each decision, append and replay; each event's metadata carries the command's trace. */
  tracing?: Tracing;
};

export const DEFAULT_STATE_CACHE_SIZE = 10_000;

/**
 * What makes two commands "the same input" for idempotency: everything the caller chose but the id,
 * and who the caller is (another user repeating someone's commandId gets a conflict, not their result).
 */
export function commandInputHash(command: Command): string {
  return createHash('sha256')
    .update(
      stableStringify({
        type: command.type,
        data: command.data,
        expectedVersion: command.metadata.expectedVersion ?? null,
        caller: command.metadata.caller.userId,
      }),
    )
    .digest('base64url');
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A stream's state and version as this handler last wrote them. It may be stale (another process appended
 * since): the append at the cached version then fails the store's check, and the handler decides again on
 * a fresh read. Entries are only touched under the stream's lock; states are never mutated.
 */
type CachedStream<S> = { version: number; state: S };

export function createDeciderHandler<C extends Command, E extends Event, S>(
  spec: DeciderHandlerSpec<C, E, S>,
  deps: CommandHandlerDeps,
): (command: C) => Promise<CommandResult> {
  const { store } = deps;
  const retry = deps.retry ?? DEFAULT_RETRY;
  const lock = deps.streamLock ?? createKeyedLock();
  const sleep = deps.sleep ?? defaultSleep;
  const tracing = deps.tracing ?? noTracing;

  /** A repeat of a recorded command: the first run's result. */
  const replay = (record: CommandRecord, inputHash: string): Promise<CommandResult> =>
    tracing.span('replay', { attributes: { 'converge.command.id': record.commandId, 'converge.stream.id': record.streamId } }, async () => {
      if (record.inputHash !== inputHash) throw new IdempotencyConflictError(record.commandId);
      const events = (await store.readCommandEvents(record)).map(({ type, data }) => ({ type, data }));
      return toResult(record.streamId, record.version, record.position, events);
    });

  /** The related streams' events, after the process managers reacting to the stream have handled its last event. */
  const readRelated = async (command: C, own: readonly StoredEvent[]) => {
    const streams = spec.relatedStreams?.(command) ?? [];
    if (streams.length === 0) return undefined;
    const last = own.at(-1);
    const settled = !last || !deps.awaitReactions || (await deps.awaitReactions(last.position, [...new Set(own.map((e) => e.type))]));
    const read = await Promise.all(streams.map((id) => store.readStream(id)));
    const reactions: CommandMetadata['reactions'] = settled ? 'settled' : 'pending';
    return { command: { ...command, metadata: { ...command.metadata, reactions } }, events: read.flatMap((r) => r.events) };
  };

  const policy = spec.snapshots;
  const snapshots = policy && deps.snapshots;
  /**
   * The stream, from its snapshot on when it has one (`from`; the stream's events start with the one at
   * its version, which proves it), else whole.
   */
  const readFrom = async (streamId: string) => {
    const from = snapshots ? await snapshots.load(streamId, policy!.deciderVersion) : null;
    if (from) {
      const stream = await store.readStream(streamId, from.version);
      if (stream.events[0]?.version === from.version) return { stream, from: from as Snapshot<S> };
    }
    return { stream: await store.readStream(streamId), from: undefined };
  };

  const capacity = deps.stateCacheSize ?? DEFAULT_STATE_CACHE_SIZE;
  const cache = capacity > 0 ? new LRUCache<string, CachedStream<S>>({ max: capacity }) : undefined;

  /** The decision: the state (new, cached, or read from the stream), and the events decided on it. */
  const decideOn = async (received: C, streamId: string, creates: boolean, cached: CachedStream<S> | undefined, span: Span) => {
    let command = received;
    const expected = command.metadata.expectedVersion;
    let state: S;
    let expectedVersion: ExpectedVersion;
    if (creates) {
      state = spec.decider.initialState();
      expectedVersion = 'no_stream';
    } else if (cached) {
      state = cached.state;
      expectedVersion = cached.version;
    } else {
      const { stream, from } = await readFrom(streamId);
      const foreign = stream.events[0] && stream.events[0].streamType !== spec.streamType;
      if (foreign || (expected !== undefined && expected !== stream.version)) {
        // Asked of a stream that is not this aggregate's (or that does not exist): the decider's answer
        // for "none yet" wins (NOT_FOUND); a command that would create it finds the id taken.
        if (foreign || stream.version === 0) spec.decider.decide(command, spec.decider.initialState());
        if (foreign) throw new RuleViolationError(`${streamId} is taken by a stream of another kind (${stream.events[0]!.streamType})`);
        throw new ConcurrencyConflictError(streamId, expected!, stream.version);
      }
      const related = await readRelated(command, stream.events);
      if (related) command = related.command;
      const after = from ? stream.events.slice(1) : stream.events;
      state = [...after, ...(related?.events ?? [])].reduce(
        (s, e) => spec.decider.evolve(s, e as unknown as E),
        from?.state ?? spec.decider.initialState(),
      );
      expectedVersion = stream.version === 0 ? 'no_stream' : stream.version;
    }
    const events = spec.decider.decide(command, state);
    if (events.length === 0) throw new Error(`${command.type} decided no events`);
    span.setAttributes({ 'converge.state': creates ? 'new' : cached ? 'cached' : 'read', 'converge.events': events.length });
    // Folded before the append, so that nothing can fail once the events are in. Folding the events as
    // decided equals folding them as read back: their data is plain JSON at the current schema version.
    const nextState = events.reduce((s, e) => spec.decider.evolve(s, e), state);
    return { command, events, nextState, expectedVersion };
  };

  /** One try at the command; `cached` is the state to decide on instead of reading the stream. */
  const attempt = async (
    received: C,
    streamId: string,
    inputHash: string | undefined,
    creates: boolean,
    cached: CachedStream<S> | undefined,
  ): Promise<CommandResult> => {
    const { command, events, nextState, expectedVersion } = await tracing.span(`decide ${received.type}`, {}, (span) =>
      decideOn(received, streamId, creates, cached, span),
    );
    const { commandId, correlationId, causationId, userId } = command.metadata;
    // The command's span (current here) goes with its events: what they cause later continues or links to it.
    const metadata = { commandId, correlationId, causationId, userId, traceparent: tracing.current() };
    const appendAttributes = { 'converge.stream.id': streamId, 'converge.events': events.length };
    const appended = await tracing
      .span(`append ${spec.streamType}`, { attributes: appendAttributes }, () =>
        store.append(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data, metadata })),
          {
            streamType: spec.streamType,
            expectedVersion,
            command: commandId && inputHash ? { commandId, inputHash } : undefined,
          },
        ),
      )
      .catch((error: unknown) => {
        // A connection lost under the append may have taken its commit's acknowledgement with it.
        if (!(error instanceof UnavailableError)) throw error;
        throw new UnavailableError({ cause: error.cause ?? error, outcome: error.notCommitted ? 'none' : 'unknown' });
      });
    cache?.set(tenantStream(streamId), { version: appended.version, state: nextState });
    const was = typeof expectedVersion === 'number' ? expectedVersion : 0;
    if (policy && snapshots && crossesSnapshot(was, appended.version, policy.every)) {
      // Beside the command, not in its way: a snapshot lost only makes a later cold read longer.
      snapshots.save(streamId, spec.streamType, policy.deciderVersion, { version: appended.version, state: nextState }).catch(() => {});
    }
    return toResult(appended.streamId, appended.version, appended.position, appended.stored ?? events);
  };

  return async (command) => {
    const { commandId, expectedVersion } = command.metadata;
    const inputHash = commandId ? commandInputHash(command) : undefined;
    const recorded = async () => {
      const record = commandId ? await store.findCommand(commandId) : null;
      return record ? replay(record, inputHash!) : undefined;
    };
    const streamId = spec.streamId(command);
    const creates = spec.createsStream?.(command) ?? false;
    const key = tenantStream(streamId);
    return lock(key, async () => {
      // A repeat is not looked up first: its append carries the command's row, whose key refuses it
      // (DuplicateCommandError), and one that fails a rule or a version check looks then (below).
      for (let n = 1; ; n++) {
        // Only the first attempt may use the cache (a failed one drops the entry). A cached version
        // other than the caller's expected one may just be stale: let a fresh read judge it.
        // A decision that reads related streams reads them afresh, and its own stream with them.
        let cached = n === 1 && !creates && !spec.relatedStreams?.(command).length ? cache?.get(key) : undefined;
        if (cached && expectedVersion !== undefined && cached.version !== expectedVersion) cached = undefined;
        try {
          return await attempt(command, streamId, inputHash, creates, cached);
        } catch (error) {
          // Whatever failed, the entry may no longer match the stream: the next attempt reads it.
          cache?.delete(key);
          if (error instanceof DuplicateCommandError) {
            const record = await store.findCommand(error.commandId);
            if (!record) throw new Error(`command ${error.commandId} reported as recorded but not found`);
            return replay(record, inputHash!);
          }
          // A rule violation or version conflict found on cached state may come from the cache being
          // stale, not from the stream: only a fresh read may make it the caller's answer. No backoff:
          // the writer that made the cache stale has committed already.
          if (cached && isDecided(error)) {
            if (error instanceof ConcurrencyConflictError) deps.onRetry?.({ streamId, attempt: n, error });
            tracing.currentSpan().addEvent('retry', { 'converge.attempt': n, 'converge.reason': 'cached state stale' });
            continue;
          }
          const retriable = error instanceof ConcurrencyConflictError && expectedVersion === undefined && n < retry.maxAttempts;
          if (!retriable) {
            // A repeat whose first run (in another process) committed meanwhile now fails a rule or a
            // version check: it is still a repeat, and gets the first result.
            const late = isDecided(error) ? await recorded() : undefined;
            if (late) return late;
            throw error;
          }
          deps.onRetry?.({ streamId, attempt: n, error });
          tracing.currentSpan().addEvent('retry', { 'converge.attempt': n, 'converge.reason': error.code });
          const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (n - 1));
          await sleep(Math.random() * cap);
        }
      }
    });
  };
}

/** A stream as the tenant the work acts for has it: stream ids repeat across tenants (a product's sku). */
const tenantStream = (streamId: string) => tenantKey(tenantOrDefault(), streamId);

function toResult(streamId: string, version: number, position: Position, events: readonly Event[]): CommandResult {
  return { streamId, version, position, consistencyToken: encodeToken(position), events };
}
