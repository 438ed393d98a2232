// Registers the Orders domain on the buses. Everything it needs arrives as arguments (see app.ts).
import type { CommandBus } from '../core/command-bus.ts';
import { createDeciderHandler, type CommandHandlerDeps, type CommandResult } from '../core/command-handler.ts';
import { orderDecider, type OrderCommand } from './decider.ts';
import { ORDER_STREAM_TYPE } from './events.ts';

export const ORDER_COMMAND_TYPES: readonly OrderCommand['type'][] = ['CreateOrder', 'AddOrderItem', 'CancelOrder', 'ShipOrder'];

export function registerOrderCommands(bus: CommandBus<OrderCommand, CommandResult>, deps: CommandHandlerDeps): void {
  const handle = createDeciderHandler(
    {
      decider: orderDecider,
      streamType: ORDER_STREAM_TYPE,
      streamId: (command) => (command.type === 'CreateOrder' ? command.metadata.newId : command.data.orderId),
      createsStream: (command) => command.type === 'CreateOrder',
    },
    deps,
  );
  for (const type of ORDER_COMMAND_TYPES) bus.register(type, handle);
}
