// The event store port: what the command side and the projections need from storage.
// The PostgreSQL implementation lives in infra/event-store; this file knows no driver.
import type { Event, Metadata, StoredEvent } from './messages.ts';
import type { PersonalFields } from './personal-data.ts';
import type { Position } from './position.ts';

/** `any`: no check; `no_stream`: the stream must not exist; a number: the stream must be at exactly it. */
export type ExpectedVersion = 'any' | 'no_stream' | number;

export type NewEvent = Event & { metadata?: Metadata };

/** What a command with a `commandId` leaves behind, so that a repeat can return the same result. */
export type CommandRecord = {
  commandId: string;
  inputHash: string;
  streamId: string;
  version: number;
  position: Position;
};

export type AppendOptions = {
  streamType: string;
  expectedVersion: ExpectedVersion;
  /** Recorded in the same transaction as the events. */
  command?: { commandId: string; inputHash: string };
};

export type AppendResult = {
  streamId: string;
  version: number;
  position: Position;
  /** The events as stored, when the store changed them (personal fields sealed): what a repeat reads back. */
  stored?: readonly Event[];
};

export type ReadStreamResult = { version: number; events: StoredEvent[] };

export interface EventStore {
  /**
   * Appends atomically. Throws ConcurrencyConflictError when the expected version does not hold and
   * DuplicateCommandError when `command.commandId` was recorded before (nothing is appended then).
   */
  append(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** The stream's events from version `fromVersion` on (all by default); `version` is the last one's (0: none). */
  readStream(streamId: string, fromVersion?: number): Promise<ReadStreamResult>;
  /**
   * Events after `after` in global order, only from transactions that can no longer commit before
   * them (docs/architecture.md, Event store and ordering), at most `limit`.
   */
  readAll(after: Position, limit: number): Promise<StoredEvent[]>;
  findCommand(commandId: string): Promise<CommandRecord | null>;
  /** The events a recorded command appended (they end at its version). */
  readCommandEvents(record: CommandRecord): Promise<StoredEvent[]>;
  /** Where a stream began (its first event) and its type; null when it has no events. Never changes once set. */
  streamStart(streamId: string): Promise<{ streamType: string; position: Position } | null>;
  /** streamStart of several streams in one read: those that have events, by id. */
  streamStarts(streamIds: readonly string[]): Promise<Map<string, { streamType: string; position: Position }>>;
  /** The position of the last event readAll would return now, or null when there is none. */
  headPosition(): Promise<Position | null>;
}

/** Internal signal: the command id is already recorded. Never reaches a client as such. */
export class DuplicateCommandError extends Error {
  constructor(readonly commandId: string) {
    super(`command ${commandId} already recorded`);
  }
}

/**
 * Event schema versions. Each type has a current version; `upcasters[n]` turns data of version n into
 * version n + 1. Stored events are never rewritten: old shapes are upcast on read.
 */
export type EventSchema = {
  version: number;
  upcasters?: Record<number, (data: any) => unknown>;
  /** Its personal fields: stored sealed with their subject's key (see personal-data.ts). */
  personal?: PersonalFields;
};
export type EventSchemas = Record<string, EventSchema>;

export function currentSchemaVersion(schemas: EventSchemas, type: string): number {
  return schemas[type]?.version ?? 1;
}

export function upcast(schemas: EventSchemas, type: string, schemaVersion: number, data: unknown): unknown {
  const schema = schemas[type];
  if (!schema) return data;
  let value = data;
  for (let v = schemaVersion; v < schema.version; v++) {
    const up = schema.upcasters?.[v];
    if (!up) throw new Error(`no upcaster for ${type} from schema version ${v}`);
    value = up(value);
  }
  return value;
}
