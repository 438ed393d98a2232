// The Order aggregate as the command side runs it: its decider, its commands' client inputs, the one
// rule for the stream a command is about (a new order's stream is the fresh id on the command), and the
// stream shipping also reads: the order's fulfilment, written by the process that reacts to its events.
import type { Aggregate } from '../core/module.ts';
import { addOrderItemInput } from './commands/add-order-item.ts';
import { cancelOrderInput } from './commands/cancel-order.ts';
import { createOrderInput } from './commands/create-order.ts';
import { markOrderPaidInput } from './commands/mark-order-paid.ts';
import { shipOrderInput } from './commands/ship-order.ts';
import { orderDecider, type OrderCommand } from './decider.ts';
import { ORDER_STREAM_TYPE } from './events.ts';
import { fulfilmentStreamId } from './fulfilment/events.ts';
import type { OrderDecisionEvent, OrderState } from './order.ts';

export const orderStreamId = (command: OrderCommand) => (command.type === 'CreateOrder' ? command.metadata.newId : command.data.orderId);

export const orderAggregate: Aggregate<OrderCommand, OrderDecisionEvent, OrderState> = {
  streamType: ORDER_STREAM_TYPE,
  decider: orderDecider,
  inputs: {
    CreateOrder: createOrderInput,
    AddOrderItem: addOrderItemInput,
    CancelOrder: cancelOrderInput,
    ShipOrder: shipOrderInput,
    MarkOrderPaid: markOrderPaidInput,
  },
  streamId: orderStreamId,
  createsStream: (command) => command.type === 'CreateOrder',
  relatedStreams: (command) => (command.type === 'ShipOrder' ? [fulfilmentStreamId(command.data.orderId)] : []),
};
