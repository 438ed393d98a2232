// customerSummary(customerId): the customer's totals from `customer_summaries`, or null before its first order.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { assertCustomerAccess } from '../../core/caller.ts';
import { id } from '../../core/input-fields.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { parseWith } from '../../core/validation.ts';
import { CUSTOMER_SUMMARIES_PROJECTION } from '../projections/customer-summaries.ts';
import { CUSTOMER_SUMMARY_VIEW_COLUMNS, type CustomerSummaryView } from '../read-model.ts';

export const customerSummaryParams = z.object({ customerId: id });
export type CustomerSummaryParams = z.input<typeof customerSummaryParams>;

export const customerSummaryQuery: QueryDefinition<CustomerSummaryParams, CustomerSummaryView | null> = {
  projections: [CUSTOMER_SUMMARIES_PROJECTION],
  create: ({ db }) =>
    async function customerSummary(params, { caller }) {
      const { customerId } = parseWith(customerSummaryParams, params);
      assertCustomerAccess(caller, customerId, `the summary of customer ${customerId}`);
      const [row] = await db.rows<CustomerSummaryView>(
        sql`select ${CUSTOMER_SUMMARY_VIEW_COLUMNS} from customer_summaries where customer_id = ${customerId}`,
      );
      return row ?? null;
    },
};
