// customerSummary(customerId): the customer's totals from `customer_summaries`, or null before its first order.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { assertCustomerAccess, type Caller } from '../../core/caller.ts';
import { parseWith } from '../../core/validation.ts';
import type { Executor } from '../../infra/db/executor.ts';
import { CUSTOMER_SUMMARY_VIEW_COLUMNS, type CustomerSummaryView } from '../read-model.ts';
import { id } from './params.ts';

export const customerSummaryParams = z.object({ customerId: id });
export type CustomerSummaryParams = z.input<typeof customerSummaryParams>;

export function customerSummaryQuery(db: Executor) {
  return async (params: CustomerSummaryParams, caller: Caller): Promise<CustomerSummaryView | null> => {
    const { customerId } = parseWith(customerSummaryParams, params);
    assertCustomerAccess(caller, customerId, `the summary of customer ${customerId}`);
    const [row] = await db.rows<CustomerSummaryView>(
      sql`select ${CUSTOMER_SUMMARY_VIEW_COLUMNS} from customer_summaries where customer_id = ${customerId}`,
    );
    return row ?? null;
  };
}
