// Messages are discriminated unions { type, data, metadata }: events past tense, commands imperative.
import type { Caller } from './caller.ts';
import type { Position } from './position.ts';

export type Metadata = {
  /** Id the caller gave the command for idempotency, if any. */
  commandId?: string;
  correlationId?: string;
  causationId?: string;
  /** The authenticated caller, if any. */
  userId?: string;
  /** The W3C trace context of the command that appended the event (with tracing on; see tracing.ts). */
  traceparent?: string;
};

export type Message<Type extends string = string, Data = unknown> = {
  type: Type;
  data: Data;
};

export type Event<Type extends string = string, Data = unknown> = Message<Type, Data>;

/** What every command carries besides its data: the caller, the clock, fresh ids, the concurrency wish. */
export type CommandMetadata = Metadata & {
  /** Who sends it; deciders check what this caller may do. */
  caller: Caller;
  /** The time the command was received; deciders take time from here, never from the clock. */
  now: Date;
  /** A fresh unique id, for a command that creates something (a new stream's id). */
  newId: string;
  /** The stream version the caller expects; absent means "retry on conflict". */
  expectedVersion?: number;
  /**
   * For a command whose decision reads related streams (DeciderHandlerSpec.relatedStreams): whether the
   * process managers that react to its stream had handled its last event when they were read ('pending':
   * they had not within the time allowed, so what those streams say may not account for it yet).
   */
  reactions?: 'settled' | 'pending';
};

export type Command<Type extends string = string, Data = unknown> = Message<Type, Data> & {
  metadata: CommandMetadata;
};

/** An event as read back from the store. */
export type StoredEvent<E extends Event = Event> = E & {
  /** The tenant whose stream it is (see tenancy.ts). */
  tenant: string;
  streamId: string;
  streamType: string;
  version: number;
  schemaVersion: number;
  metadata: Metadata;
  position: Position;
  createdAt: string;
};

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
