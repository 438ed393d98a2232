// Registers the Orders domain on the buses and lists its projections. Everything it needs arrives as
// arguments (see app.ts).
import type { CommandBus } from '../core/command-bus.ts';
import { createDeciderHandler, type CommandHandlerDeps, type CommandResult } from '../core/command-handler.ts';
import type { Projection } from '../core/projection.ts';
import type { QueryBus } from '../core/query-bus.ts';
import type { Executor, TxExecutor } from '../infra/db/executor.ts';
import { orderDecider, type OrderCommand } from './decider.ts';
import { ORDER_STREAM_TYPE } from './events.ts';
import { createCustomerSummariesProjection } from './projections/customer-summaries.ts';
import { createOrdersProjection } from './projections/orders.ts';
import { customerOrdersQuery } from './queries/customer-orders.ts';
import { customerSummaryQuery } from './queries/customer-summary.ts';
import type { OrderQueries } from './queries/index.ts';
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

export function registerOrderQueries<Ctx>(bus: QueryBus<OrderQueries, Ctx>, db: Executor): void {
  const order = orderQuery(db);
  const customerOrders = customerOrdersQuery(db);
  const searchOrders = searchOrdersQuery(db);
  const customerSummary = customerSummaryQuery(db);
  bus.register('order', (params) => order(params));
  bus.register('customerOrders', (params) => customerOrders(params));
  bus.register('searchOrders', (params) => searchOrders(params));
  bus.register('customerSummary', (params) => customerSummary(params));
}

export function orderProjections(): Projection<TxExecutor>[] {
  return [createOrdersProjection(), createCustomerSummariesProjection()];
}
