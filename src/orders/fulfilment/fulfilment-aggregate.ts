// The Fulfilment aggregate as the command side runs it: one stream per order ("fulfilment/<orderId>"),
// written only by the fulfilment process.
import type { Aggregate } from '../../core/module.ts';
import { recordFulfilmentInput } from './record-fulfilment.ts';
import { type FulfilmentCommand, fulfilmentDecider } from './decider.ts';
import { FULFILMENT_STREAM_TYPE, type FulfilmentEvent, fulfilmentStreamId } from './events.ts';
import type { FulfilmentState } from './fulfilment.ts';

export const fulfilmentAggregate: Aggregate<FulfilmentCommand, FulfilmentEvent, FulfilmentState> = {
  streamType: FULFILMENT_STREAM_TYPE,
  decider: fulfilmentDecider,
  inputs: { RecordFulfilment: recordFulfilmentInput },
  streamId: (command) => fulfilmentStreamId(command.data.orderId),
};
