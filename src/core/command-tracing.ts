// Each command in a span of its own: its type and ids (never its data), the stream and version it
// reached, or the error code it failed with. The decision, the append, retries and a replay of a
// recorded command happen inside it (command-handler.ts, command-retry.ts).
import type { CommandMiddleware } from './command-bus.ts';
import type { CommandResult } from './command-handler.ts';
import type { Command } from './messages.ts';
import type { Tracing } from './tracing.ts';

export function traceCommands<C extends Command>(tracing: Tracing): CommandMiddleware<C, CommandResult> {
  return (command, next) => {
    const { commandId, causationId } = command.metadata;
    const attributes = { 'converge.command.type': command.type, 'converge.command.id': commandId, 'converge.causation': causationId };
    return tracing.span(`command ${command.type}`, { attributes }, async (span) => {
      const result = await next(command);
      span.setAttributes({
        'converge.stream.id': result.streamId,
        'converge.stream.version': result.version,
        'converge.consistency.token': result.consistencyToken,
      });
      return result;
    });
  };
}
