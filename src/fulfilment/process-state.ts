// What the fulfilment process knows while it handles a batch: each order's row, each product's stock as
// its decisions left it, and the backorders waiting for each product. Rows come from the batch's lookups,
// else from its tables (only it writes them), and what changes is written with the checkpoint. A product
// or order it has no row for yet (handled before the process kept them) is rebuilt from the log as it
// stood at the event being handled, so that every decision is the one the global order gives.
import { comparePositions, decodeToken, type Position } from '../core/position.ts';
import type { ProcessStep } from '../core/process-manager.ts';
import type { HandledEvent, Lookup } from '../core/sql-projection.ts';
import { PRODUCT_STREAM_TYPE, type ProductEvent } from '../inventory/events.ts';
import { evolve as evolveProduct, initialState as noProduct, reservedOf } from '../inventory/product.ts';
import type { OrderEvent } from '../orders/events.ts';
import {
  type BackorderRow,
  fulfilmentBackorders,
  fulfilmentProcess,
  fulfilmentStock,
  type PlacedAt,
  type ProcessRow,
  type StockRow,
} from './read-models/fulfilment-process.ts';

export type ProcessTables = typeof fulfilmentProcess | typeof fulfilmentStock | typeof fulfilmentBackorders;
export type FulfilmentLookups = {
  processes: Lookup<typeof fulfilmentProcess, OrderEvent>;
  stock: Lookup<typeof fulfilmentStock, OrderEvent | ProductEvent>;
};
export type Step = ProcessStep<FulfilmentLookups, ProcessTables>;

export const placedAt = (position: Position): PlacedAt => ({ tx: position.tx.toString(), pos: position.pos.toString() });
export const positionOf = (placed: PlacedAt): Position => ({ tx: BigInt(placed.tx), pos: BigInt(placed.pos) });
const before = (a: Position, b: Position) => comparePositions(a, b) < 0;

/** An event of the process's own commands says which event caused it; any other counts at its own position. */
const countsAt = (event: { position: Position; metadata: { causationId?: string } }) =>
  event.metadata.causationId ? decodeToken(event.metadata.causationId) : event.position;

export class FulfilmentBook {
  private readonly orders = new Map<string, ProcessRow>();
  private readonly stock_ = new Map<string, StockRow>();
  private readonly queues = new Map<string, BackorderRow>();
  private readonly changed = { orders: new Set<string>(), stock: new Set<string>(), queues: new Set<string>() };

  constructor(private readonly step: Step) {}

  /** The order's row (undefined: the process has not handled it). */
  async order(orderId: string): Promise<ProcessRow | undefined> {
    let row = this.orders.get(orderId) ?? this.step.found.processes.get(orderId);
    if (!row) row = (await this.step.read(fulfilmentProcess, [orderId])).get(orderId);
    if (row) this.orders.set(orderId, row);
    return row;
  }

  setOrder(row: ProcessRow): void {
    this.orders.set(row.orderId, row);
    this.changed.orders.add(row.orderId);
  }

  /**
   * Whether a line of `sku` in the event at `at` is stock-controlled: the product existed before it (a fact
   * that never changes, so a replay decides the same, and orders older than a product never reserve it).
   */
  async stockControlled(sku: string, at: Position): Promise<boolean> {
    const start = await this.step.streamStart(sku);
    return start !== null && start.streamType === PRODUCT_STREAM_TYPE && before(start.position, at);
  }

  /** The stock of a stock-controlled `sku` as the process's decisions left it, handling the event at `now`. */
  async stock(sku: string, now: Position): Promise<StockRow> {
    let row = this.stock_.get(sku) ?? this.step.found.stock.get(sku);
    if (!row) row = (await this.step.read(fulfilmentStock, [sku])).get(sku) ?? (await this.rebuildStock(sku, now));
    this.stock_.set(sku, row);
    return row;
  }

  setStock(row: StockRow): void {
    this.stock_.set(row.sku, row);
    this.changed.stock.add(row.sku);
  }

  /** The backorders waiting for `sku`, in the order they were placed. */
  async queue(sku: string): Promise<BackorderRow> {
    let row = this.queues.get(sku);
    if (!row) row = (await this.step.read(fulfilmentBackorders, [sku])).get(sku) ?? { sku, orders: [] };
    this.queues.set(sku, row);
    return row;
  }

  async enqueue(sku: string, orderId: string, placed: PlacedAt): Promise<void> {
    const queue = await this.queue(sku);
    if (queue.orders.some((entry) => entry.orderId === orderId)) return;
    const orders = [...queue.orders, { orderId, ...placed }].sort((a, b) => comparePositions(positionOf(a), positionOf(b)));
    this.queues.set(sku, { sku, orders });
    this.changed.queues.add(sku);
  }

  async dequeue(sku: string, orderId: string): Promise<void> {
    const queue = await this.queue(sku);
    if (!queue.orders.some((entry) => entry.orderId === orderId)) return;
    this.queues.set(sku, { sku, orders: queue.orders.filter((entry) => entry.orderId !== orderId) });
    this.changed.queues.add(sku);
  }

  /** Writes what changed, with the checkpoint. */
  write(): void {
    const pick = <R>(names: Set<string>, rows: Map<string, R>) => [...names].map((name) => rows.get(name)!);
    this.step.upsert(fulfilmentProcess, pick(this.changed.orders, this.orders));
    this.step.upsert(fulfilmentStock, pick(this.changed.stock, this.stock_));
    this.step.upsert(fulfilmentBackorders, pick(this.changed.queues, this.queues));
  }

  /**
   * A product the process kept no row for (one created before it kept them): its stock from its stream as
   * it stood at `now`, counting the process's own reservations, releases and commits by the event that
   * caused them.
   */
  private async rebuildStock(sku: string, now: Position): Promise<StockRow> {
    const { events } = await this.step.readStream(sku);
    const state = events
      .filter((event) => before(countsAt(event), now))
      .reduce((s, event) => evolveProduct(s, event as HandledEvent<ProductEvent, ProductEvent['type']>), noProduct());
    const row = {
      sku,
      onHand: state.status === 'NONE' ? 0 : state.onHand,
      reserved: state.status === 'NONE' ? 0 : reservedOf(state.reservations),
    };
    this.setStock(row);
    return row;
  }
}

/** The stock-controlled quantity per sku of an order's events (for an order whose row predates `needs`, from its stream). */
export async function needsOf(book: FulfilmentBook, events: readonly HandledEvent<OrderEvent, OrderEvent['type']>[]) {
  const needs: Record<string, number> = {};
  for (const event of events) {
    const lines = event.type === 'OrderCreated' ? event.data.items : event.type === 'OrderItemAdded' ? [event.data] : [];
    for (const line of lines) {
      if (await book.stockControlled(line.productId, event.position)) needs[line.productId] = (needs[line.productId] ?? 0) + line.quantity;
    }
  }
  return needs;
}
