// Turns zod failures into BAD_USER_INPUT with one { path, message } per problem.
import type { z } from 'zod';
import { ValidationError } from './errors.ts';

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, basePath: (string | number)[] = []): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: [...basePath, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
      message: issue.message,
    })),
  );
}
