// The command bus: one handler per command type, a middleware chain around every dispatch.
import type { Command } from './messages.ts';

export type CommandHandlerFn<C extends Command, R> = (command: C) => Promise<R>;
export type CommandMiddleware<C extends Command, R> = (command: C, next: (command: C) => Promise<R>) => Promise<R>;

export type CommandBus<C extends Command, R> = {
  register<T extends C['type']>(type: T, handler: CommandHandlerFn<Extract<C, { type: T }>, R>): void;
  dispatch(command: C): Promise<R>;
};

export function createCommandBus<C extends Command, R>(options: { middleware?: CommandMiddleware<C, R>[] } = {}): CommandBus<C, R> {
  const handlers = new Map<string, CommandHandlerFn<C, R>>();
  const middleware = options.middleware ?? [];

  const invoke = (command: C): Promise<R> => {
    const handler = handlers.get(command.type);
    if (!handler) return Promise.reject(new Error(`no handler registered for command ${command.type}`));
    return handler(command);
  };
  // Compose once: middleware[0] is outermost.
  const run = middleware.reduceRight<(command: C) => Promise<R>>((next, mw) => (command) => mw(command, next), invoke);

  return {
    register(type, handler) {
      if (handlers.has(type)) throw new Error(`command ${type} already has a handler`);
      handlers.set(type, handler as CommandHandlerFn<C, R>);
    },
    dispatch: run,
  };
}
