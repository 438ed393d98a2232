// From a mutation's input to the command bus: GraphQL null means "not given" to the command schemas.
import { parseCommand, type CommandInputs } from '../core/command-input.ts';
import type { Command } from '../core/messages.ts';
import { ran } from './consistency.ts';
import type { GraphQLContext } from './context.ts';

/** Drops null and undefined fields (one level). */
export const withoutNulls = (input: object) => Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined));

export function dispatchCommand<C extends Command>(ctx: GraphQLContext, inputs: CommandInputs<C>, type: C['type'], input: object) {
  const command = parseCommand(inputs, type, withoutNulls(input), { caller: ctx.caller, correlationId: ctx.requestId });
  return ctx.services.commands.dispatch(command).then((result) => ran(ctx, result));
}
