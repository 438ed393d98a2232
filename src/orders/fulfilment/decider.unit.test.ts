// The Fulfilment decider, given / when / then: which outcome may follow which.
import { describe, it } from 'vitest';
import { RuleViolationError } from '../../core/errors.ts';
import { commandFor, deciderSpec, SPEC_NOW } from '../../testing/index.ts';
import { type FulfilmentCommand, fulfilmentDecider } from './decider.ts';
import type { FulfilmentEvent } from './events.ts';
import { fulfilmentAggregate } from './fulfilment-aggregate.ts';

const at = SPEC_NOW.toISOString();

describe('RecordFulfilment', () => {
  const fulfilment = deciderSpec(fulfilmentDecider);
  const record = (outcome: string) =>
    commandFor<FulfilmentCommand, 'RecordFulfilment'>(fulfilmentAggregate, 'RecordFulfilment', { orderId: 'o-1', outcome });
  const event = (type: FulfilmentEvent['type']): FulfilmentEvent => ({ type, data: { orderId: 'o-1', at } });

  it('moves a pending order to RESERVED or BACKORDERED, and on to RELEASED or SHIPPED', () => {
    fulfilment
      .given([])
      .when(record('RESERVED'))
      .then([event('FulfilmentReserved')]);
    fulfilment
      .given([])
      .when(record('BACKORDERED'))
      .then([event('FulfilmentBackordered')]);
    // An order with nothing stock-controlled has no event before its cancellation or shipping.
    fulfilment
      .given([])
      .when(record('RELEASED'))
      .then([event('FulfilmentReleased')]);
    fulfilment
      .given([])
      .when(record('SHIPPED'))
      .then([event('FulfilmentShipped')]);
    fulfilment
      .given([event('FulfilmentReserved')])
      .when(record('BACKORDERED'))
      .then([event('FulfilmentBackordered')]);
    fulfilment
      .given([event('FulfilmentReserved')])
      .when(record('SHIPPED'))
      .then([event('FulfilmentShipped')]);
    fulfilment
      .given([event('FulfilmentBackordered')])
      .when(record('RELEASED'))
      .then([event('FulfilmentReleased')]);
  });

  it('refuses an outcome that cannot follow, and anything after the final ones', () => {
    fulfilment
      .given([event('FulfilmentShipped')])
      .when(record('SHIPPED'))
      .thenThrows(RuleViolationError, /from SHIPPED to SHIPPED/);
    fulfilment
      .given([event('FulfilmentReserved'), event('FulfilmentShipped')])
      .when(record('RELEASED'))
      .thenThrows(RuleViolationError);
    fulfilment
      .given([event('FulfilmentReserved')])
      .when(record('RESERVED'))
      .thenThrows(RuleViolationError);
  });
});
