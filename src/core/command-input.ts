// From a client's input to a command: validated with the command's zod schema (issues' paths relative
// to `basePath`), then what is about handling (commandId, expectedVersion) moves to the metadata.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Command, CommandMetadata } from './messages.ts';
import { parseWith } from './validation.ts';

/**
 * The caller is required: no entry point may send a command without saying who sends it. `commandId`
 * here is the service's own (a process manager's), outside what a client's input may name.
 */
export type CommandContext = Pick<CommandMetadata, 'caller'> &
  Partial<Pick<CommandMetadata, 'correlationId' | 'causationId' | 'now' | 'newId' | 'commandId'>>;

/** Each command type's input schema; its output is the command's data plus commandId and expectedVersion. */
export type CommandInputs<C extends Command> = { readonly [T in C['type']]: z.ZodType };

export function parseCommand<C extends Command, T extends C['type']>(
  inputs: CommandInputs<C>,
  type: T,
  input: unknown,
  context: CommandContext,
  basePath: (string | number)[] = ['input'],
): Extract<C, { type: T }> {
  const parsed = parseWith(inputs[type], input, basePath) as Record<string, unknown>;
  const { commandId = context.commandId, expectedVersion, ...data } = parsed as { commandId?: string; expectedVersion?: number };
  const metadata: CommandMetadata = {
    caller: context.caller,
    now: context.now ?? new Date(),
    newId: context.newId ?? randomUUID(),
    ...(commandId !== undefined && { commandId }),
    ...(expectedVersion !== undefined && { expectedVersion }),
    ...(context.caller.userId !== null && { userId: context.caller.userId }),
    ...(context.correlationId !== undefined && { correlationId: context.correlationId }),
    ...(context.causationId !== undefined && { causationId: context.causationId }),
  };
  return { type, data, metadata } as unknown as Extract<C, { type: T }>;
}
