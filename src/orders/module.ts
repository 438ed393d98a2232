// Registers the Orders domain on the buses and lists its projections. Everything it needs arrives as
// arguments (see app.ts).
import type { Caller } from '../core/caller.ts';
import type { CommandBus } from '../core/command-bus.ts';
import type { EventStore } from '../core/event-store.ts';
import { createDeciderHandler, type CommandHandlerDeps, type CommandResult } from '../core/command-handler.ts';
import type { QueryBus } from '../core/query-bus.ts';
import type { Executor, SqlProjection } from '../infra/db/executor.ts';
import { orderDecider, type OrderCommand } from './decider.ts';
import { ORDER_STREAM_TYPE } from './events.ts';
import { createCustomerSummariesProjection } from './projections/customer-summaries.ts';
import { createOrdersProjection } from './projections/orders.ts';
import { customerOrdersQuery } from './queries/customer-orders.ts';
import { customerSummaryQuery } from './queries/customer-summary.ts';
import type { OrderQueries } from './queries/index.ts';
import { orderAccessQuery } from './queries/order-access.ts';
import { orderQuery } from './queries/order.ts';
import { searchOrdersQuery } from './queries/search-orders.ts';

export const ORDER_COMMAND_TYPES: readonly OrderCommand['type'][] = ['CreateOrder', 'AddOrderItem', 'CancelOrder', 'ShipOrder'];

export function registerOrderCommands(bus: CommandBus<OrderCommand, CommandResult>, deps: CommandHandlerDeps): void {
  const handle = createDeciderHandler(
    {
      decider: orderDecider,
      streamType: ORDER_STREAM_TYPE,
      streamId: (command) => (command.type === 'CreateOrder' ? command.metadata.newId : command.data.orderId),
      createsStream: (command) => command.type === 'CreateOrder',
    },
    deps,
  );
  for (const type of ORDER_COMMAND_TYPES) bus.register(type, handle);
}

/** Every Orders query is answered for a caller, and each handler checks what that caller may see. */
export function registerOrderQueries<Ctx extends { caller: Caller }>(
  bus: QueryBus<OrderQueries, Ctx>,
  db: Executor,
  store: EventStore,
): void {
  const order = orderQuery(db);
  const customerOrders = customerOrdersQuery(db);
  const searchOrders = searchOrdersQuery(db);
  const customerSummary = customerSummaryQuery(db);
  bus.register('order', (params, ctx) => order(params, ctx.caller));
  bus.register('customerOrders', (params, ctx) => customerOrders(params, ctx.caller));
  bus.register('searchOrders', (params, ctx) => searchOrders(params, ctx.caller));
  bus.register('customerSummary', (params, ctx) => customerSummary(params, ctx.caller));
  const orderAccess = orderAccessQuery(store);
  bus.register('orderAccess', (params, ctx) => orderAccess(params, ctx.caller));
}

export function orderProjections(): SqlProjection[] {
  return [createOrdersProjection(), createCustomerSummariesProjection()];
}
