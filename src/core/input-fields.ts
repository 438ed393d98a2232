// Input fields every domain validates with, at the service's limits (docs/architecture.md, Input):
// ids of at most 100 characters, no NUL in any string, pages of 1 to 100 items.
import { z } from 'zod';

const noNul = (s: string) => !s.includes('\u0000');
const NUL_MESSAGE = 'must not contain NUL characters';

export const text = (max: number) => z.string().max(max, `must be at most ${max} characters`).refine(noNul, NUL_MESSAGE);

export const requiredText = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).refine(noNul, NUL_MESSAGE);

export const id = requiredText(100);

/** Command ids of the service's own commands (a process manager's) start with this; a client's may not. */
export const INTERNAL_COMMAND_ID_PREFIX = 'converge:';

/** A client's commandId: an id outside the service's own namespace, so that no client can take one of those. */
export const commandId = id.refine(
  (v) => !v.startsWith(INTERNAL_COMMAND_ID_PREFIX),
  `must not start with "${INTERNAL_COMMAND_ID_PREFIX}" (kept for the service's own commands)`,
);

/** A whole number in [min, max]. */
export const wholeNumber = (min: number, max: number) =>
  z.number().int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

export const expectedVersion = z.number().int('must be a whole number').min(0, 'must not be negative').optional();

export const paging = {
  page: wholeNumber(1, 1_000_000).default(1),
  pageSize: wholeNumber(1, 100).default(20),
};

export type Page<T> = { items: T[]; total: number; page: number; pageSize: number; totalPages: number };

export function toPage<T>(items: T[], total: number, page: number, pageSize: number): Page<T> {
  return { items, total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
}
