// The Orders queries as a query map, and which projection stands behind each (for `after:` waits).
import type { OrderView, CustomerSummaryView } from '../read-model.ts';
import { CUSTOMER_SUMMARIES_PROJECTION } from '../projections/customer-summaries.ts';
import { ORDERS_PROJECTION } from '../projections/orders.ts';
import type { CustomerOrdersParams } from './customer-orders.ts';
import type { CustomerSummaryParams } from './customer-summary.ts';
import type { OrderAccessParams } from './order-access.ts';
import type { OrderParams } from './order.ts';
import type { Page } from './params.ts';
import type { SearchOrdersParams } from './search-orders.ts';

export type OrderQueries = {
  order: { params: OrderParams; result: OrderView | null };
  customerOrders: { params: CustomerOrdersParams; result: Page<OrderView> };
  searchOrders: { params: SearchOrdersParams; result: Page<OrderView> };
  customerSummary: { params: CustomerSummaryParams; result: CustomerSummaryView | null };
  orderAccess: { params: OrderAccessParams; result: { orderId: string; customerId: string } };
};

export const ORDER_QUERY_PROJECTIONS: Record<keyof OrderQueries, readonly string[]> = {
  order: [ORDERS_PROJECTION],
  customerOrders: [ORDERS_PROJECTION],
  searchOrders: [ORDERS_PROJECTION],
  customerSummary: [CUSTOMER_SUMMARIES_PROJECTION],
  orderAccess: [], // reads the event store itself
};
