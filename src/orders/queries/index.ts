// The Orders queries by name, each with the projections it reads.
import type { QueryTypes } from '../../core/module.ts';
import { customerOrdersQuery } from './customer-orders.ts';
import { customerSummaryQuery } from './customer-summary.ts';
import { orderAccessQuery } from './order-access.ts';
import { orderQuery } from './order.ts';
import { searchOrdersQuery } from './search-orders.ts';

export const orderQueries = {
  order: orderQuery,
  customerOrders: customerOrdersQuery,
  searchOrders: searchOrdersQuery,
  customerSummary: customerSummaryQuery,
  orderAccess: orderAccessQuery,
};

export type OrderQueries = QueryTypes<typeof orderQueries>;
