// The order statuses a query may filter by.
import { z } from 'zod';

export const ORDER_STATUSES = ['PLACED', 'CANCELLED', 'SHIPPED'] as const;
export const orderStatus = z.enum(ORDER_STATUSES);
