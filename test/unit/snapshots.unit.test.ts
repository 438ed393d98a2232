// Snapshots never change a decision: for every aggregate that opts in, folding a long generated history
// from a snapshot (its state through a JSON round trip, as the database keeps it) and the events after it
// gives the state folding every event gives, wherever the snapshot was taken.
import { describe, expect, it } from 'vitest';
import type { Decider } from '../../src/core/decider.ts';
import type { Command, Event } from '../../src/core/messages.ts';
import type { Aggregate } from '../../src/core/module.ts';
import { crossesSnapshot } from '../../src/core/snapshots.ts';
import type { ProductCommand } from '../../src/inventory/decider.ts';
import { productAggregate } from '../../src/inventory/product-aggregate.ts';
import { MODULES } from '../../src/modules.ts';
import { commandFor } from '../../src/testing/index.ts';

/** A seeded generator of numbers in [0, 1). */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};

/** A long valid history of one stream, made by deciding random commands on the state so far. */
function history<C extends Command, E extends Event, S>(
  decider: Decider<C, E, S>,
  next: (roll: () => number, n: number) => C,
  length: number,
  seed: number,
) {
  const roll = random(seed);
  const events: E[] = [];
  let state = decider.initialState();
  for (let n = 0; events.length < length; n++) {
    let decided: E[];
    try {
      decided = decider.decide(next(roll, n), state);
    } catch {
      continue; // a command its rules refuse: the history goes on without it
    }
    for (const event of decided) state = decider.evolve(state, event);
    events.push(...decided);
  }
  return events;
}

const productCommands = (roll: () => number, n: number): ProductCommand => {
  const sku = 'kettle';
  const orderId = `o-${Math.floor(roll() * 40)}`;
  const command = <T extends ProductCommand['type']>(type: T, input: Record<string, unknown>) =>
    commandFor<ProductCommand, T>(productAggregate, type, { sku, ...input });
  if (n === 0) return command('CreateProduct', { name: 'Kettle', onHand: 5 });
  const r = roll();
  if (r < 0.15) return command('RestockProduct', { quantity: 1 + Math.floor(roll() * 5) });
  if (r < 0.6) return command('ReserveStock', { orderId, line: `${orderId}@${n}`, quantity: 1 + Math.floor(roll() * 3) });
  if (r < 0.8) return command('ReleaseStock', { orderId });
  return command('CommitStock', { orderId });
};

/** The histories of the aggregates that opt in to snapshots. */
const generators = new Map<Aggregate<any, any, any>, (roll: () => number, n: number) => Command>([[productAggregate, productCommands]]);

describe('snapshots', () => {
  it('every aggregate that opts in has a history generator here', () => {
    const optedIn = MODULES.flatMap((m) => m.module.aggregates).filter((a) => a.snapshots);
    expect(optedIn.length).toBeGreaterThan(0);
    for (const aggregate of optedIn) expect(generators.has(aggregate), aggregate.streamType).toBe(true);
  });

  it.each([...generators].map(([aggregate, next]) => [aggregate.streamType, aggregate, next] as const))(
    '%s: folding from a snapshot at any point equals folding every event, over a long generated history',
    (_type, aggregate, next) => {
      const { decider } = aggregate;
      for (const seed of [1, 7, 99]) {
        const events = history(decider, next, 1000, seed);
        const whole = events.reduce((s, e) => decider.evolve(s, e), decider.initialState());
        for (let at = 0; at <= events.length; at += 37) {
          const snapshot = JSON.parse(JSON.stringify(events.slice(0, at).reduce((s, e) => decider.evolve(s, e), decider.initialState())));
          expect(
            events.slice(at).reduce((s, e) => decider.evolve(s, e), snapshot),
            `seed ${seed}, snapshot after ${at}`,
          ).toEqual(whole);
        }
      }
    },
  );

  it('a snapshot is written each time a command crosses a multiple of `every` events', () => {
    expect([
      crossesSnapshot(98, 99, 100),
      crossesSnapshot(99, 100, 100),
      crossesSnapshot(99, 102, 100),
      crossesSnapshot(100, 101, 100),
    ]).toEqual([false, true, true, false]);
  });
});
