// The decider command handler against an in-memory event store: above all its stream state cache, which
// saves the read before a command but must never change an answer (the store's version check guards it).
import { describe, expect, it } from 'vitest';
import { createDeciderHandler, type CommandHandlerDeps } from '../../src/core/command-handler.ts';
import type { Decider } from '../../src/core/decider.ts';
import { ConcurrencyConflictError, RuleViolationError } from '../../src/core/errors.ts';
import {
  DuplicateCommandError,
  type AppendOptions,
  type CommandRecord,
  type EventStore,
  type NewEvent,
} from '../../src/core/event-store.ts';
import type { Command, Event, StoredEvent } from '../../src/core/messages.ts';
import type { Position } from '../../src/core/position.ts';
import { orderDecider, type OrderCommand } from '../../src/orders/decider.ts';
import { ORDER_STREAM_TYPE } from '../../src/orders/events.ts';
import { command, createOrderInput, meta } from '../support/orders.ts';

/** An EventStore in memory that counts reads and appends; `external` appends as another process would. */
function fakeStore() {
  const streams = new Map<string, StoredEvent[]>();
  const commands = new Map<string, CommandRecord>();
  let pos = 0n;
  const calls = { readStream: 0, append: 0 };
  let failNextAppend: Error | undefined;

  const doAppend = (streamId: string, events: NewEvent[], options: AppendOptions) => {
    const stream = streams.get(streamId) ?? [];
    const { expectedVersion } = options;
    if (expectedVersion === 'no_stream' ? stream.length > 0 : expectedVersion !== 'any' && expectedVersion !== stream.length) {
      throw new ConcurrencyConflictError(streamId, expectedVersion === 'any' ? 0 : expectedVersion, stream.length);
    }
    if (options.command && commands.has(options.command.commandId)) throw new DuplicateCommandError(options.command.commandId);
    let position: Position = { tx: 0n, pos: 0n };
    for (const e of events) {
      position = { tx: ++pos, pos };
      stream.push({
        tenant: 'default',
        type: e.type,
        // What the database does to event data: a JSON round trip.
        data: JSON.parse(JSON.stringify(e.data)),
        metadata: e.metadata ?? {},
        streamId,
        streamType: options.streamType,
        version: stream.length + 1,
        schemaVersion: 1,
        position,
        createdAt: new Date(0).toISOString(),
      });
    }
    streams.set(streamId, stream);
    const result = { streamId, version: stream.length, position };
    if (options.command) commands.set(options.command.commandId, { ...options.command, ...result });
    return result;
  };

  const store: EventStore = {
    async append(streamId, events, options) {
      calls.append++;
      await Promise.resolve();
      if (failNextAppend) {
        const error = failNextAppend;
        failNextAppend = undefined;
        throw error;
      }
      return doAppend(streamId, events, options);
    },
    async readStream(streamId) {
      calls.readStream++;
      await Promise.resolve();
      const events = [...(streams.get(streamId) ?? [])];
      return { version: events.length, events };
    },
    async readAll() {
      throw new Error('not used');
    },
    async findCommand(commandId) {
      return commands.get(commandId) ?? null;
    },
    async readCommandEvents(record) {
      return (streams.get(record.streamId) ?? []).filter((e) => e.metadata.commandId === record.commandId);
    },
    async streamStart(streamId) {
      const first = streams.get(streamId)?.[0];
      return first ? { streamType: first.streamType, position: first.position } : null;
    },
    async streamStarts(streamIds) {
      const starts = new Map<string, { streamType: string; position: Position }>();
      for (const id of streamIds) {
        const first = streams.get(id)?.[0];
        if (first) starts.set(id, { streamType: first.streamType, position: first.position });
      }
      return starts;
    },
    async headPosition() {
      return null;
    },
  };

  return {
    store,
    calls,
    version: (streamId: string) => streams.get(streamId)?.length ?? 0,
    types: (streamId: string) => (streams.get(streamId) ?? []).map((e) => e.type),
    /** Another process's handler wrote to the stream: this one's cache does not know. */
    external: (streamId: string, type: string, data: Record<string, unknown>) =>
      doAppend(streamId, [{ type, data: { orderId: streamId, ...data } }], { streamType: ORDER_STREAM_TYPE, expectedVersion: 'any' }),
    failNextAppend: (error: Error) => {
      failNextAppend = error;
    },
  };
}

function setup(deps: Partial<CommandHandlerDeps> = {}) {
  const fake = fakeStore();
  const retries: number[] = [];
  const handle = createDeciderHandler(
    {
      decider: orderDecider,
      streamType: ORDER_STREAM_TYPE,
      streamId: (c: OrderCommand) => (c.type === 'CreateOrder' ? c.metadata.newId : c.data.orderId),
      createsStream: (c) => c.type === 'CreateOrder',
    },
    { store: fake.store, onRetry: ({ attempt }) => retries.push(attempt), sleep: async () => {}, ...deps },
  );
  const create = async (newId = 'order-1', overrides: Record<string, unknown> = {}) =>
    (await handle(command('CreateOrder', createOrderInput(overrides), { newId }))).version;
  const addItem = async (orderId = 'order-1', extra: Record<string, unknown> = {}) =>
    (await handle(command('AddOrderItem', { orderId, productId: 'p-9', quantity: 1, unitPrice: '0.10', ...extra }))).version;
  const ship = async (orderId = 'order-1', extra: Record<string, unknown> = {}) =>
    (await handle(command('ShipOrder', { orderId, ...extra }))).version;
  return { ...fake, handle, retries, create, addItem, ship };
}

const itemAdded = { productId: 'p-x', quantity: 1, unitPrice: '1.00', addedAt: '2026-01-01T00:00:00.000Z' };

describe('command handler stream state cache', () => {
  it('decides the next command on a stream it wrote without reading it', async () => {
    const t = setup();
    expect(await t.create()).toBe(1);
    expect(await t.addItem()).toBe(2);
    expect(await t.addItem()).toBe(3);
    expect(await t.ship()).toBe(4);
    expect(t.calls.readStream).toBe(0);
    // The cached state is the folded one: a shipped order takes no more items, still without a read.
    await expect(t.addItem()).rejects.toThrow(RuleViolationError);
    expect(t.types('order-1')).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderShipped']);
  });

  it('reads a stream it has not written, then caches it', async () => {
    const t = setup();
    t.external('order-1', 'OrderCreated', { customerId: 'c', items: [], shippingAddress: {}, createdAt: 'x' });
    expect(await t.addItem()).toBe(2);
    expect(await t.addItem()).toBe(3);
    expect(t.calls.readStream).toBe(1);
  });

  it('reads before every command when the cache size is 0', async () => {
    const t = setup({ stateCacheSize: 0 });
    await t.create();
    await t.addItem();
    await t.addItem();
    expect(t.calls.readStream).toBe(2);
  });

  it('on a conflict from a stale entry, drops it and applies the command on a fresh read', async () => {
    const t = setup();
    await t.create();
    t.external('order-1', 'OrderItemAdded', itemAdded); // v2, behind this handler's back
    expect(await t.addItem()).toBe(3);
    expect(t.calls).toEqual({ readStream: 1, append: 3 }); // create, the stale try, the fresh one
    expect(t.retries).toEqual([1]);
    // The fresh state is cached again.
    expect(await t.addItem()).toBe(4);
    expect(t.calls.readStream).toBe(1);
  });

  it('judges a rule on the fresh state, not on a stale entry', async () => {
    const t = setup();
    await t.create();
    t.external('order-1', 'OrderShipped', { shippedAt: '2026-01-01T00:00:00.000Z' });
    // The cache still says PLACED; the stream says SHIPPED.
    await expect(t.addItem()).rejects.toThrow(RuleViolationError);
    expect(t.calls.readStream).toBe(1);
    expect(t.version('order-1')).toBe(2);
  });

  it('does not give a rule violation found on a stale entry as the answer', async () => {
    // A decider whose rule a later event can lift: "Use" needs the stream to be enabled.
    type S = { enabled: boolean };
    type C = Command<'Open' | 'Use', { id: string }>;
    const decider: Decider<C, Event, S> = {
      initialState: () => ({ enabled: false }),
      evolve: (s, e) => (e.type === 'Enabled' ? { enabled: true } : s),
      decide: (c, s) => {
        if (c.type === 'Use' && !s.enabled) throw new RuleViolationError('not enabled');
        return [{ type: c.type === 'Use' ? 'Used' : 'Opened', data: {} }];
      },
    };
    const fake = fakeStore();
    const handle = createDeciderHandler({ decider, streamType: 'T', streamId: (c) => c.data.id }, { store: fake.store });
    const metadata = meta();
    await handle({ type: 'Open', data: { id: 's' }, metadata }); // not enabled yet, and cached so
    fake.external('s', 'Enabled', {});
    expect((await handle({ type: 'Use', data: { id: 's' }, metadata })).version).toBe(3);
    expect(fake.calls.readStream).toBe(2); // the first command's read, and the fresh one after the cache said no
  });

  it('drops the entry when an append fails for any other reason', async () => {
    const t = setup();
    await t.create();
    t.failNextAppend(new Error('connection lost'));
    await expect(t.addItem()).rejects.toThrow('connection lost');
    expect(t.calls.readStream).toBe(0);
    expect(await t.addItem()).toBe(2);
    expect(t.calls.readStream).toBe(1);
  });

  it('applies concurrent commands on one stream in turn, from the cache', async () => {
    const t = setup();
    await t.create();
    const versions = await Promise.all(Array.from({ length: 10 }, () => t.addItem()));
    expect(versions.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
    expect(t.calls.readStream).toBe(0);
    expect(t.retries).toEqual([]);
  });

  it('keeps at most stateCacheSize streams, dropping the least recently used', async () => {
    const t = setup({ stateCacheSize: 2 });
    await t.create('a');
    await t.create('b');
    await t.addItem('a'); // a is now the most recently used
    await t.create('c'); // evicts b
    await t.addItem('a');
    await t.addItem('c');
    expect(t.calls.readStream).toBe(0);
    await t.addItem('b');
    expect(t.calls.readStream).toBe(1);
  });

  describe('with the caller expectedVersion', () => {
    it('applies the command at a matching cached version without reading', async () => {
      const t = setup();
      await t.create();
      expect(await t.addItem('order-1', { expectedVersion: 1 })).toBe(2);
      expect(t.calls.readStream).toBe(0);
    });

    it('rejects a stale expectedVersion with the version of a fresh read', async () => {
      const t = setup();
      await t.create();
      await t.addItem();
      const error = await t.addItem('order-1', { expectedVersion: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyConflictError);
      expect((error as ConcurrencyConflictError).actualVersion).toBe(2);
      expect(t.calls.readStream).toBe(1);
      expect(t.version('order-1')).toBe(2);
    });

    it('accepts an expectedVersion the stale entry disagrees with when the stream agrees', async () => {
      const t = setup();
      await t.create();
      t.external('order-1', 'OrderItemAdded', itemAdded); // v2; the cache says v1
      expect(await t.addItem('order-1', { expectedVersion: 2 })).toBe(3);
      expect(t.retries).toEqual([]);
    });

    it('rejects an expectedVersion only a stale entry agrees with, with the actual version', async () => {
      const t = setup();
      await t.create();
      t.external('order-1', 'OrderItemAdded', itemAdded); // v2; the cache says v1
      const error = await t.addItem('order-1', { expectedVersion: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyConflictError);
      expect((error as ConcurrencyConflictError).actualVersion).toBe(2);
      expect(t.calls.readStream).toBe(1);
      expect(t.version('order-1')).toBe(2);
    });

    it('gives the stale-entry conflict a fresh read even when retries are off', async () => {
      const t = setup({ retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
      await t.create();
      t.external('order-1', 'OrderItemAdded', itemAdded);
      expect(await t.addItem()).toBe(3);
    });
  });

  describe('idempotency', () => {
    it('a repeat returns the first result without deciding again', async () => {
      const t = setup();
      await t.create('order-1', { commandId: 'create-1' });
      const first = await t.handle(
        command('AddOrderItem', { orderId: 'order-1', productId: 'p', quantity: 1, unitPrice: '1.00', commandId: 'add-1' }),
      );
      await t.addItem();
      const again = await t.handle(
        command('AddOrderItem', { orderId: 'order-1', productId: 'p', quantity: 1, unitPrice: '1.00', commandId: 'add-1' }),
      );
      expect(again).toEqual(first);
      expect(t.version('order-1')).toBe(3);
      expect(await t.addItem()).toBe(4);
    });

    it('a command recorded by another process between lookup and append replays its result', async () => {
      const t = setup();
      await t.create();
      const add = command('AddOrderItem', { orderId: 'order-1', productId: 'p', quantity: 1, unitPrice: '1.00', commandId: 'add-1' });
      // Another process's handler runs the same command first, while this one passes its lookup.
      const other = createDeciderHandler(
        {
          decider: orderDecider,
          streamType: ORDER_STREAM_TYPE,
          streamId: (c: OrderCommand) => (c.type === 'CreateOrder' ? c.metadata.newId : c.data.orderId),
        },
        { store: t.store },
      );
      const [mine, theirs] = await Promise.all([t.handle(add), other(add)]);
      expect(mine).toEqual(theirs);
      expect(t.version('order-1')).toBe(2);
      expect(await t.addItem()).toBe(3);
    });
  });
});
