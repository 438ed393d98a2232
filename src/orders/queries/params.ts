// Query parameters shared by the Orders queries, with the limits of API.md.
import { z } from 'zod';
import { id } from '../commands/fields.ts';

export const ORDER_STATUSES = ['PLACED', 'CANCELLED', 'SHIPPED'] as const;
export const orderStatus = z.enum(ORDER_STATUSES);

export const paging = {
  page: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000').default(1),
  pageSize: z.number().int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
};

export { id };

export type Page<T> = { items: T[]; total: number; page: number; pageSize: number; totalPages: number };

export function toPage<T>(items: T[], total: number, page: number, pageSize: number): Page<T> {
  return { items, total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
}
