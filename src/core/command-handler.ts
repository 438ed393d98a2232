// Turns a decider into a command handler: read the stream, fold, decide, append at the version read.
// It owns the two command-side guarantees of API.md: idempotency by commandId and, for commands
// without an expected version, a bounded retry on a fresh read when another writer got there first.
import { createHash } from 'node:crypto';
import { fold, type Decider } from './decider.ts';
import { ConcurrencyConflictError, IdempotencyConflictError } from './errors.ts';
import {
  DuplicateCommandError,
  type CommandRecord,
  type EventStore,
  type ExpectedVersion,
} from './event-store.ts';
import type { Command, Event } from './messages.ts';
import { encodeToken, type Position } from './position.ts';
import { createKeyedLock, type KeyedLock } from './keyed-lock.ts';

export type CommandResult = {
  streamId: string;
  /** The stream's version after the command. */
  version: number;
  /** The position of the last event the command appended. */
  position: Position;
  consistencyToken: string;
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
};

export type CommandHandlerDeps = {
  store: EventStore;
  retry?: RetryPolicy;
  /** Shared per process, so that commands on one stream take turns here instead of in the database. */
  streamLock?: KeyedLock;
  /** Told about every retry, for metrics and for tests that must see the retry happen. */
  onRetry?: (info: { streamId: string; attempt: number; error: ConcurrencyConflictError }) => void;
  sleep?: (ms: number) => Promise<void>;
};

/** What makes two commands "the same input" for idempotency: everything the caller chose but the id. */
export function commandInputHash(command: Command): string {
  return createHash('sha256')
    .update(stableStringify({ type: command.type, data: command.data, expectedVersion: command.metadata.expectedVersion ?? null }))
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

export function createDeciderHandler<C extends Command, E extends Event, S>(
  spec: DeciderHandlerSpec<C, E, S>,
  deps: CommandHandlerDeps,
): (command: C) => Promise<CommandResult> {
  const { store } = deps;
  const retry = deps.retry ?? DEFAULT_RETRY;
  const lock = deps.streamLock ?? createKeyedLock();
  const sleep = deps.sleep ?? defaultSleep;

  const replay = (record: CommandRecord, inputHash: string): CommandResult => {
    if (record.inputHash !== inputHash) throw new IdempotencyConflictError(record.commandId);
    return toResult(record.streamId, record.version, record.position);
  };

  const attempt = async (command: C, streamId: string, inputHash: string | undefined): Promise<CommandResult> => {
    const creates = spec.createsStream?.(command) ?? false;
    const expected = command.metadata.expectedVersion;
    let state: S;
    let expectedVersion: ExpectedVersion;
    if (creates) {
      state = spec.decider.initialState();
      expectedVersion = 'no_stream';
    } else {
      const stream = await store.readStream(streamId);
      if (expected !== undefined && expected !== stream.version) {
        throw new ConcurrencyConflictError(streamId, expected, stream.version);
      }
      state = fold(spec.decider, stream.events as unknown as E[]);
      expectedVersion = stream.version === 0 ? 'no_stream' : stream.version;
    }
    const events = spec.decider.decide(command, state);
    if (events.length === 0) throw new Error(`${command.type} decided no events`);
    const { commandId, correlationId, userId } = command.metadata;
    const metadata = { commandId, correlationId, userId };
    const appended = await store.append(
      streamId,
      events.map((e) => ({ type: e.type, data: e.data, metadata })),
      {
        streamType: spec.streamType,
        expectedVersion,
        command: commandId && inputHash ? { commandId, inputHash } : undefined,
      },
    );
    return toResult(appended.streamId, appended.version, appended.position);
  };

  return async (command) => {
    const { commandId, expectedVersion } = command.metadata;
    const inputHash = commandId ? commandInputHash(command) : undefined;
    if (commandId) {
      const record = await store.findCommand(commandId);
      if (record) return replay(record, inputHash!);
    }
    const streamId = spec.streamId(command);
    return lock(streamId, async () => {
      for (let n = 1; ; n++) {
        try {
          return await attempt(command, streamId, inputHash);
        } catch (error) {
          if (error instanceof DuplicateCommandError) {
            const record = await store.findCommand(error.commandId);
            if (!record) throw new Error(`command ${error.commandId} reported as recorded but not found`);
            return replay(record, inputHash!);
          }
          const retriable =
            error instanceof ConcurrencyConflictError && expectedVersion === undefined && n < retry.maxAttempts;
          if (!retriable) throw error;
          deps.onRetry?.({ streamId, attempt: n, error });
          const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (n - 1));
          await sleep(Math.random() * cap);
        }
      }
    });
  };
}

function toResult(streamId: string, version: number, position: Position): CommandResult {
  return { streamId, version, position, consistencyToken: encodeToken(position) };
}
