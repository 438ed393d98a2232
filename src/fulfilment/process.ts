// The `fulfilment` process manager: reacts to order events by reserving, releasing and committing
// product stock, and records each order's outcome (an order with no stock-controlled line only in its
// own state: nothing happened that needs an event). An order ends RESERVED or BACKORDERED, never half
// reserved: when a line cannot be reserved, what the order holds is released. Every decision rests on
// facts that never change (what existed before the event, what a command recorded), commands are sent
// in a fixed order (lines by sku) and their ids derive from the event: a replay decides the same.
import { SYSTEM_CALLER } from '../core/caller.ts';
import { parseCommand } from '../core/command-input.ts';
import { runInKeyOrder } from '../core/key-order.ts';
import { assertNever, type StoredEvent } from '../core/messages.ts';
import { causedCommandId, defineProcessManager, type ProcessEffects } from '../core/process-manager.ts';
import { comparePositions, encodeToken } from '../core/position.ts';
import { type HandledEvent, lookup } from '../core/sql-projection.ts';
import type { ProductCommand } from '../inventory/decider.ts';
import { PRODUCT_EVENT_TYPES, PRODUCT_STREAM_TYPE } from '../inventory/events.ts';
import { productAggregate } from '../inventory/product-aggregate.ts';
import { LATER_ORDER_EVENT_TYPES, ORDER_EVENT_TYPES, type OrderEvent } from '../orders/events.ts';
import { FULFILMENT_EVENT_TYPES, type FulfilmentStatus } from './events.ts';
import { fulfilmentAggregate } from './fulfilment-aggregate.ts';
import { fulfilmentProcess as processTable, type ProcessRow } from './read-models/fulfilment-process.ts';
import { FULFILMENT_PROCESS } from './read-models/order-fulfilments.ts';

type OrderEventRead = HandledEvent<OrderEvent, OrderEvent['type']>;

/**
 * Whether a line of `productId` in `event` is stock-controlled: the product existed before the event
 * (a fact that never changes, so a replay decides the same, and orders older than a product never
 * reserve it).
 */
async function stockControlled(productId: string, event: StoredEvent, step: ProcessEffects): Promise<boolean> {
  const start = await step.streamStart(productId);
  return start !== null && start.streamType === PRODUCT_STREAM_TYPE && comparePositions(start.position, event.position) < 0;
}

/** What one order event asks of the process, given the order's state so far (undefined: none yet). */
async function react(event: OrderEventRead, state: ProcessRow | undefined, step: ProcessEffects): Promise<ProcessRow | undefined> {
  const orderId = event.streamId;
  const context = (purpose: string) => ({
    caller: SYSTEM_CALLER,
    now: new Date(event.createdAt),
    causationId: encodeToken(event.position),
    correlationId: event.metadata.correlationId,
    commandId: causedCommandId(FULFILMENT_PROCESS, event, purpose),
  });
  const product = (type: ProductCommand['type'], input: Record<string, unknown>, purpose: string) =>
    step.send(parseCommand(productAggregate.inputs, type, input, context(purpose)));
  /** Reserves `quantity` of `sku` for this event's line: whether there was enough. */
  const reserve = async (sku: string, quantity: number) => {
    const result = await product('ReserveStock', { sku, orderId, line: `${orderId}@${event.version}`, quantity }, `reserve ${sku}`);
    return result.events[0]?.type === 'StockReserved';
  };
  const releaseAll = async (skus: readonly string[]) => {
    for (const sku of skus) await product('ReleaseStock', { sku, orderId }, `release ${sku}`);
  };
  const record = async (outcome: Exclude<FulfilmentStatus, 'PENDING'>, skus: string[]): Promise<ProcessRow> => {
    await step.send(parseCommand(fulfilmentAggregate.inputs, 'RecordFulfilment', { orderId, outcome }, context('outcome')));
    return { orderId, status: outcome, skus };
  };

  switch (event.type) {
    case 'OrderCreated': {
      const wanted = new Map<string, number>();
      for (const item of event.data.items) wanted.set(item.productId, (wanted.get(item.productId) ?? 0) + item.quantity);
      const reserved: string[] = [];
      for (const sku of [...wanted.keys()].sort()) {
        if (!(await stockControlled(sku, event, step))) continue;
        if (!(await reserve(sku, wanted.get(sku)!))) {
          await releaseAll(reserved);
          return record('BACKORDERED', []);
        }
        reserved.push(sku);
      }
      // Nothing stock-controlled, nothing reserved: RESERVED with no command and no event, kept in the
      // process's own state (which Order.fulfilment reads when no outcome event exists).
      if (reserved.length === 0) return { orderId, status: 'RESERVED', skus: [] };
      return record('RESERVED', reserved);
    }
    case 'OrderItemAdded': {
      const { productId, quantity } = event.data;
      if (state?.status !== 'RESERVED' || !(await stockControlled(productId, event, step))) return state;
      if (await reserve(productId, quantity))
        return { ...state, skus: state.skus.includes(productId) ? state.skus : [...state.skus, productId] };
      await releaseAll(state.skus);
      return record('BACKORDERED', []);
    }
    case 'OrderCancelled':
      if (!state || (state.status !== 'RESERVED' && state.status !== 'BACKORDERED')) return state;
      await releaseAll(state.skus);
      return record('RELEASED', []);
    case 'OrderShipped':
      if (!state || (state.status !== 'RESERVED' && state.status !== 'BACKORDERED')) return state;
      for (const sku of state.skus) await product('CommitStock', { sku, orderId }, `commit ${sku}`);
      return record('SHIPPED', []);
    default:
      return assertNever(event, 'order event');
  }
}

export const fulfilmentProcess = defineProcessManager<OrderEvent>()({
  name: FULFILMENT_PROCESS,
  handles: ORDER_EVENT_TYPES,
  effects: [...PRODUCT_EVENT_TYPES, ...FULFILMENT_EVENT_TYPES],
  tables: [processTable],
  lookups: {
    processes: lookup(processTable, { key: processTable.orderId, keys: [{ streamId: true, types: LATER_ORDER_EVENT_TYPES }] }),
  },
  async handle(events, step) {
    const changed = new Map<string, ProcessRow>();
    // Orders that touch no product in common are handled side by side; an event waits for every earlier
    // one of its order or of a product its order touches, so every decision is the one in global order.
    const touched = new Map<string, Set<string>>();
    const keysOf = (event: OrderEventRead) => {
      let skus = touched.get(event.streamId);
      if (!skus) touched.set(event.streamId, (skus = new Set(step.found.processes.get(event.streamId)?.skus ?? [])));
      if (event.type === 'OrderCreated') for (const item of event.data.items) skus.add(item.productId);
      if (event.type === 'OrderItemAdded') skus.add(event.data.productId);
      return [`order:${event.streamId}`, ...[...skus].map((sku) => `sku:${sku}`)];
    };
    await runInKeyOrder(events, keysOf, async (event) => {
      const state = changed.get(event.streamId) ?? step.found.processes.get(event.streamId);
      const next = await react(event, state, step);
      if (next && next !== state) changed.set(next.orderId, next);
    });
    step.upsert(processTable, [...changed.values()]);
  },
});
