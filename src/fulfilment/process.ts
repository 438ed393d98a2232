// The `fulfilment` process manager: reacts to order events by reserving, releasing and committing product
// stock, fills backorders in the order they were placed when stock comes (a restock, a release), and
// records each order's outcome (an order with no stock-controlled line only in its own state: nothing
// happened that needs an event). An order is RESERVED or BACKORDERED, never half reserved. It decides
// from its own view of each product's stock (process-state.ts), which the global order of the events it
// handles alone determines, so a replay decides the same; the product, reserved only by this process,
// always has at least that much, so the reservations it sends are never refused. Commands are sent in a
// fixed order (skus sorted) and their ids derive from the event: a replay appends nothing twice.
import { SYSTEM_CALLER } from '../core/caller.ts';
import { parseCommand } from '../core/command-input.ts';
import { runInKeyOrder } from '../core/key-order.ts';
import { assertNever } from '../core/messages.ts';
import { causedCommandId, defineProcessManager } from '../core/process-manager.ts';
import { comparePositions, encodeToken } from '../core/position.ts';
import { type HandledEvent, lookup } from '../core/sql-projection.ts';
import type { ProductCommand } from '../inventory/decider.ts';
import { PRODUCT_EVENT_TYPES, type ProductEvent } from '../inventory/events.ts';
import { productAggregate } from '../inventory/product-aggregate.ts';
import { LATER_ORDER_EVENT_TYPES, ORDER_EVENT_TYPES, type OrderEvent } from '../orders/events.ts';
import { FULFILMENT_EVENT_TYPES, type FulfilmentStatus } from '../orders/fulfilment/events.ts';
import { fulfilmentAggregate } from '../orders/fulfilment/fulfilment-aggregate.ts';
import { FulfilmentBook, needsOf, placedAt, positionOf, type Step } from './process-state.ts';
import {
  fulfilmentBackorders,
  fulfilmentProcess as processTable,
  fulfilmentStock,
  type ProcessRow,
} from './read-models/fulfilment-process.ts';
import { FULFILMENT_PROCESS } from './read-models/order-fulfilments.ts';

/** The product events the process reacts to: a product's stock begins, or grows. */
const STOCK_EVENT_TYPES = ['ProductCreated', 'ProductRestocked'] as const;
type Handled = HandledEvent<OrderEvent | ProductEvent, OrderEvent['type'] | (typeof STOCK_EVENT_TYPES)[number]>;
type Needs = Record<string, number>;

const sorted = (needs: Needs) => Object.keys(needs).sort();

/** The process's decisions about one event: its commands (ids derived from it) and its view of the stock. */
class Reaction {
  constructor(
    private readonly event: Handled,
    private readonly book: FulfilmentBook,
    private readonly step: Step,
  ) {}

  private context(purpose: string) {
    return {
      caller: SYSTEM_CALLER,
      now: new Date(this.event.createdAt),
      causationId: encodeToken(this.event.position),
      correlationId: this.event.metadata.correlationId,
      commandId: causedCommandId(FULFILMENT_PROCESS, this.event, purpose),
    };
  }

  private product(type: ProductCommand['type'], input: Record<string, unknown>, purpose: string) {
    return this.step.send(parseCommand(productAggregate.inputs, type, input, this.context(purpose)));
  }

  /**
   * What a command of this event does for `orderId`: the event's own order keeps the purposes the process
   * has always used (so that a batch replayed across an upgrade sends the same ids); another order's
   * (a backorder filled) names it.
   */
  private purpose(what: string, orderId: string, sku?: string): string {
    const own = orderId === this.event.streamId;
    return [own ? what : `${what} ${orderId}`, sku].filter(Boolean).join(' ');
  }

  async record(row: ProcessRow, outcome: Exclude<FulfilmentStatus, 'PENDING'>, skus: string[]): Promise<ProcessRow> {
    const { orderId } = row;
    const context = this.context(this.purpose('outcome', orderId));
    await this.step.send(parseCommand(fulfilmentAggregate.inputs, 'RecordFulfilment', { orderId, outcome }, context));
    const next = { ...row, status: outcome, skus };
    this.book.setOrder(next);
    return next;
  }

  /** Whether every quantity of `needs` is available in the process's view now. */
  async fits(needs: Needs): Promise<boolean> {
    for (const sku of sorted(needs)) {
      const stock = await this.book.stock(sku, this.event.position);
      if (stock.onHand - stock.reserved < needs[sku]!) return false;
    }
    return true;
  }

  /** Reserves `needs` for `orderId` (the view said they fit), one command per sku, `line` naming what they are for. */
  async reserve(orderId: string, needs: Needs, line: string): Promise<void> {
    for (const sku of sorted(needs)) {
      const quantity = needs[sku]!;
      const result = await this.product('ReserveStock', { sku, orderId, line, quantity }, this.purpose('reserve', orderId, sku));
      // Only this process reserves: the product has at least what its view has, so this cannot happen
      // unless that view is wrong. Failing here stops the process visibly instead of deciding on it.
      if (result.events[0]?.type !== 'StockReserved')
        throw new Error(`product ${sku} refused ${quantity} for order ${orderId}, which the process saw available`);
      const stock = await this.book.stock(sku, this.event.position);
      this.book.setStock({ ...stock, reserved: stock.reserved + quantity });
    }
  }

  /** Releases what `row`'s order holds; returns the skus whose stock it freed. */
  async release(row: ProcessRow): Promise<string[]> {
    const needs = await this.needs(row);
    for (const sku of [...row.skus].sort()) {
      await this.product('ReleaseStock', { sku, orderId: row.orderId }, this.purpose('release', row.orderId, sku));
      const stock = await this.book.stock(sku, this.event.position);
      this.book.setStock({ ...stock, reserved: stock.reserved - (needs[sku] ?? 0) });
    }
    return row.skus;
  }

  /** The stock `row`'s order holds leaves with it: on hand and reserved both drop. */
  async commit(row: ProcessRow): Promise<void> {
    const needs = await this.needs(row);
    for (const sku of [...row.skus].sort()) {
      await this.product('CommitStock', { sku, orderId: row.orderId }, this.purpose('commit', row.orderId, sku));
      const stock = await this.book.stock(sku, this.event.position);
      const quantity = needs[sku] ?? 0;
      this.book.setStock({ ...stock, onHand: stock.onHand - quantity, reserved: stock.reserved - quantity });
    }
  }

  /** The order's stock-controlled quantities (rebuilt from its stream for an order handled before they were kept). */
  async needs(row: ProcessRow): Promise<Needs> {
    if (row.needs) return row.needs;
    const { events } = await this.step.readStream(row.orderId);
    const earlier = events.filter((e) => comparePositions(e.position, this.event.position) < 0) as HandledEvent<
      OrderEvent,
      OrderEvent['type']
    >[];
    return needsOf(this.book, earlier);
  }

  async backorder(row: ProcessRow, needs: Needs): Promise<ProcessRow> {
    const placed = row.placed ?? placedAt(this.event.position);
    for (const sku of sorted(needs)) await this.book.enqueue(sku, row.orderId, placed);
    return this.record({ ...row, needs, placed }, 'BACKORDERED', []);
  }

  /**
   * Stock of `skus` came free: the orders waiting for any of them, in the order they were placed, each
   * RESERVED if every quantity it needs fits now (all or nothing); one that does not keeps its place.
   */
  async fillBackorders(skus: readonly string[]): Promise<void> {
    const waiting = new Map<string, { orderId: string; tx: string; pos: string }>();
    for (const sku of skus) for (const entry of (await this.book.queue(sku)).orders) waiting.set(entry.orderId, entry);
    const inOrder = [...waiting.values()].sort((a, b) => comparePositions(positionOf(a), positionOf(b)));
    for (const { orderId } of inOrder) {
      const row = await this.book.order(orderId);
      if (row?.status !== 'BACKORDERED') continue;
      const needs = await this.needs(row);
      if (!(await this.fits(needs))) continue;
      await this.reserve(orderId, needs, `${orderId}@fill:${encodeToken(this.event.position)}`);
      for (const sku of sorted(needs)) await this.book.dequeue(sku, orderId);
      await this.record({ ...row, needs }, 'RESERVED', sorted(needs));
    }
  }

  /** The order's stock-controlled lines in this event. */
  async linesOf(lines: readonly { productId: string; quantity: number }[]): Promise<Needs> {
    const needs: Needs = {};
    for (const { productId, quantity } of lines) {
      if (await this.book.stockControlled(productId, this.event.position)) needs[productId] = (needs[productId] ?? 0) + quantity;
    }
    return needs;
  }
}

const add = (a: Needs, b: Needs): Needs => {
  const sum = { ...a };
  for (const [sku, quantity] of Object.entries(b)) sum[sku] = (sum[sku] ?? 0) + quantity;
  return sum;
};

/** What one event asks of the process. */
async function react(event: Handled, book: FulfilmentBook, step: Step): Promise<void> {
  const act = new Reaction(event, book, step);
  switch (event.type) {
    case 'ProductCreated': {
      const { sku, onHand } = event.data;
      book.setStock({ sku, onHand, reserved: 0 });
      return;
    }
    case 'ProductRestocked': {
      const stock = await book.stock(event.streamId, event.position);
      book.setStock({ ...stock, onHand: stock.onHand + event.data.quantity });
      return act.fillBackorders([event.streamId]);
    }
    case 'OrderCreated': {
      const needs = await act.linesOf(event.data.items);
      const row: ProcessRow = { orderId: event.streamId, status: 'RESERVED', skus: [], needs, placed: placedAt(event.position) };
      // Nothing stock-controlled: RESERVED with no command and no event, kept in the process's own state
      // (which Order.fulfilment reads when no outcome event exists).
      if (Object.keys(needs).length === 0) return book.setOrder(row);
      if (!(await act.fits(needs))) {
        await act.backorder(row, needs);
        return;
      }
      await act.reserve(row.orderId, needs, `${row.orderId}@${event.version}`);
      await act.record(row, 'RESERVED', sorted(needs));
      return;
    }
    case 'OrderItemAdded': {
      const row = await book.order(event.streamId);
      if (!row) return;
      const line = await act.linesOf([event.data]);
      if (Object.keys(line).length === 0) return;
      const needs = add(await act.needs(row), line);
      if (row.status === 'BACKORDERED') {
        await act.backorder(row, needs);
        return;
      }
      if (row.status !== 'RESERVED') return;
      if (await act.fits(line)) {
        await act.reserve(row.orderId, line, `${row.orderId}@${event.version}`);
        book.setOrder({ ...row, needs, skus: [...new Set([...row.skus, ...Object.keys(line)])].sort() });
        return;
      }
      // The new line does not fit: the order gives back what it holds and waits, whole, for its stock.
      const freed = await act.release(row);
      await act.backorder({ ...row, skus: [] }, needs);
      return act.fillBackorders(freed);
    }
    case 'OrderCancelled': {
      const row = await book.order(event.streamId);
      if (row?.status === 'BACKORDERED') {
        for (const sku of sorted(await act.needs(row))) await book.dequeue(sku, row.orderId);
        await act.record(row, 'RELEASED', []);
        return;
      }
      if (row?.status !== 'RESERVED') return;
      const freed = await act.release(row);
      await act.record(row, 'RELEASED', []);
      return act.fillBackorders(freed);
    }
    case 'OrderShipped': {
      const row = await book.order(event.streamId);
      if (row?.status === 'RESERVED') await act.commit(row);
      // Shipping needs RESERVED now; a BACKORDERED order here shipped before that rule, holding nothing.
      else if (row?.status === 'BACKORDERED') for (const sku of sorted(await act.needs(row))) await book.dequeue(sku, row.orderId);
      else return;
      await act.record(row, 'SHIPPED', []);
      return;
    }
    default:
      return assertNever(event, 'fulfilment event');
  }
}

/**
 * An event that may free stock for other orders (a restock, a cancel, an added line) or touch state no
 * key of it names runs alone; the others touch only their order and its products.
 */
function alone(event: Handled, step: Step): boolean {
  if (event.type === 'OrderCreated') return false;
  if (event.type === 'OrderShipped') return step.found.processes.get(event.streamId)?.status !== 'RESERVED';
  return true;
}

function keysOf(event: Handled, step: Step): string[] {
  const skus =
    event.type === 'OrderCreated' ? event.data.items.map((item) => item.productId) : (step.found.processes.get(event.streamId)?.skus ?? []);
  return [`order:${event.streamId}`, ...skus.map((sku) => `sku:${sku}`)];
}

export const fulfilmentProcess = defineProcessManager<OrderEvent | ProductEvent>()({
  name: FULFILMENT_PROCESS,
  handles: [...ORDER_EVENT_TYPES, ...STOCK_EVENT_TYPES],
  effects: [...PRODUCT_EVENT_TYPES, ...FULFILMENT_EVENT_TYPES],
  tables: [processTable, fulfilmentStock, fulfilmentBackorders],
  lookups: {
    processes: lookup(processTable, { key: processTable.orderId, keys: [{ streamId: true, types: LATER_ORDER_EVENT_TYPES }] }),
    stock: lookup(fulfilmentStock, {
      key: fulfilmentStock.sku,
      keys: [
        { dataItems: 'items', field: 'productId', types: ['OrderCreated'] },
        { dataField: 'productId', types: ['OrderItemAdded'] },
        { streamId: true, types: ['ProductRestocked'] },
      ],
    }),
  },
  async handle(events, step) {
    const book = new FulfilmentBook(step);
    // Whether each line is stock-controlled asks where its product's stream began: one read for the batch.
    await step.prefetchStreamStarts(
      (events as Handled[]).flatMap((e) =>
        e.type === 'OrderCreated' ? e.data.items.map((item) => item.productId) : e.type === 'OrderItemAdded' ? [e.data.productId] : [],
      ),
    );
    // Events that share no order or product run side by side; each is decided as in global order, since
    // it waits for every earlier one that shares an order or product with it, and those that run alone
    // wait for all before them.
    let run: Handled[] = [];
    const flush = async () => {
      await runInKeyOrder(
        run,
        (event) => keysOf(event, step),
        (event) => react(event, book, step),
      );
      run = [];
    };
    for (const event of events as Handled[]) {
      if (!alone(event, step)) {
        run.push(event);
        continue;
      }
      await flush();
      await react(event, book, step);
    }
    await flush();
    book.write();
  },
});
