// Commands for specs, built the way the service builds them (validated by the command's input schema),
// with a fixed clock and fresh id unless a spec gives its own.
import { type Caller, SYSTEM_CALLER } from '../core/caller.ts';
import { type CommandContext, parseCommand } from '../core/command-input.ts';
import type { Command } from '../core/messages.ts';
import type { Aggregate } from '../core/module.ts';

/** The time every spec command carries unless it names its own. */
export const SPEC_NOW = new Date('2026-01-01T00:00:00.000Z');

/** An admin caller (the system): override `caller` to test what a customer may do. */
export const SPEC_CALLER: Caller = SYSTEM_CALLER;

/** `commandFor(orderAggregate, 'CreateOrder', input)`: the command as the bus receives it. */
export function commandFor<C extends Command, T extends C['type']>(
  aggregate: Pick<Aggregate<C, any, any>, 'inputs'>,
  type: T,
  input: Record<string, unknown>,
  context: Partial<CommandContext> = {},
): Extract<C, { type: T }> {
  return parseCommand<C, T>(aggregate.inputs, type, input, { caller: SPEC_CALLER, now: SPEC_NOW, newId: 'spec-1', ...context });
}
