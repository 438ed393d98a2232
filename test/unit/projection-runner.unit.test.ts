// The projection runner against storage in memory: order and checkpoints, states, failure bisection,
// outages, takeover by another runner, wake-ups, and blue/green rebuilds.
import { afterEach, describe, expect, it } from 'vitest';
import { createConsistencyTracker } from '../../src/core/consistency-tracker.ts';
import { UnavailableError } from '../../src/core/errors.ts';
import { EventsNotApplied } from '../../src/core/projection.ts';
import { createProjectionRunner, type ProjectionRunner } from '../../src/core/projection-runner.ts';
import type { Projection } from '../../src/core/projection.ts';
import { createFakeStorage, fakeEvent, type FakeTx } from '../support/fake-projection-storage.ts';

/** Runs the event loop until `check` holds (in-memory storage: no clock involved), at most 5,000 turns. */
async function until(check: () => boolean, what: string) {
  for (let turn = 0; turn < 5000; turn++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

const projection = (apply?: (events: Parameters<Projection<FakeTx>['apply']>[0], tx: FakeTx) => void): Projection<FakeTx> => ({
  name: 'things',
  handles: new Set(['ThingHappened']),
  tables: ['things'],
  apply(events, tx) {
    apply?.(events, tx);
    for (const e of events) tx.writes.push(`${e.position.pos}`);
  },
});

describe('projection runner', () => {
  let runner: ProjectionRunner | undefined;
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
  });

  const start = (
    fake: ReturnType<typeof createFakeStorage>,
    p = projection(),
    options: { batchSize?: number; pollMs?: number; firstBuildAsRebuildFrom?: number } = {},
  ) => {
    const tracker = createConsistencyTracker(['things']);
    runner = createProjectionRunner({
      projection: p,
      storage: fake.storage,
      tracker,
      pollMs: options.pollMs ?? 60_000,
      batchSize: options.batchSize ?? 3,
      firstBuildAsRebuildFrom: options.firstBuildAsRebuildFrom,
    });
    runner.start();
    return tracker;
  };

  it('applies handled events in order, moves its checkpoint over the others, and tells the tracker', async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1), fakeEvent(2, 'OtherHappened'), fakeEvent(3), fakeEvent(4), fakeEvent(5, 'OtherHappened'));
    const tracker = start(fake);
    const seen: bigint[] = [];
    tracker.subscribe((p) => seen.push(p.position!.pos));
    expect(await tracker.waitFor(fakeEvent(5).position, ['things'], 10_000)).toMatchObject({ stale: false });
    expect(fake.live).toEqual(['1', '3', '4']);
    expect(fake.record.position).toEqual(fakeEvent(5).position);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : 1)));
    expect(seen.at(-1)).toBe(5n);
  });

  it('sleeps until woken: a wake-up steps at once, with no poll to help', async () => {
    const fake = createFakeStorage('things');
    const tracker = start(fake); // polls once a minute
    await until(() => fake.calls.includes('step live 3'), 'a first step');
    fake.append(fakeEvent(1));
    runner!.wake();
    expect(await tracker.waitFor(fakeEvent(1).position, ['things'], 10_000)).toMatchObject({ stale: false });
  });

  it('a paused projection does not step; reloaded after resume, it goes on where it stopped', async () => {
    const fake = createFakeStorage('things');
    fake.record.state = 'PAUSED';
    fake.append(fakeEvent(1), fakeEvent(2));
    start(fake);
    await until(() => fake.calls.filter((c) => c === 'load').length >= 1, 'a load');
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.calls.filter((c) => c.startsWith('step'))).toEqual([]);
    fake.record.state = 'RUNNING';
    runner!.reload();
    await until(() => fake.live.length === 2, 'both events applied');
    expect(fake.live).toEqual(['1', '2']);
  });

  it('finds the event that fails in a batch: those before it commit, the projection FAILS at it, and stops', async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1), fakeEvent(2), fakeEvent(3), fakeEvent(4));
    start(
      fake,
      projection((events) => {
        if (events.some((e) => e.position.pos === 3n)) throw new Error('cannot project 3');
      }),
      { batchSize: 4 },
    );
    await until(() => fake.record.state === 'FAILED', 'FAILED');
    expect(fake.live).toEqual(['1', '2']);
    expect(fake.record).toMatchObject({ position: fakeEvent(2).position, errorPosition: fakeEvent(3).position });
    expect(fake.record.lastError).toMatch(/^ThingHappened at s-3@1: cannot project 3$/);
    const steps = fake.calls.length;
    runner!.wake();
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.calls.slice(steps).filter((c) => c.startsWith('step'))).toEqual([]);
  });

  it('an event whose reads fail before the projection gets it FAILS at that event, with the reason', async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1), fakeEvent(2), fakeEvent(3));
    fake.failWhen((batch) =>
      batch.some((e) => e.position.pos === 2n) ? new EventsNotApplied(batch, new Error('column "nope" does not exist')) : undefined,
    );
    start(fake);
    await until(() => fake.record.state === 'FAILED', 'FAILED');
    expect(fake.record).toMatchObject({ position: fakeEvent(1).position, errorPosition: fakeEvent(2).position });
    expect(fake.record.lastError).toBe('ThingHappened at s-2@1: column "nope" does not exist');
  });

  it("an outage is not the event's fault: the step is tried again, nothing FAILS, nothing is applied twice", async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1), fakeEvent(2));
    fake.failNext(new UnavailableError(), new UnavailableError());
    const tracker = start(fake);
    expect(await tracker.waitFor(fakeEvent(2).position, ['things'], 10_000)).toMatchObject({ stale: false });
    expect(fake.record.state).toBe('RUNNING');
    expect(fake.live).toEqual(['1', '2']);
  });

  it('started again while it is still stopping (its lock lost, then taken again), it runs once the stop is done', async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1));
    fake.failNext(new UnavailableError()); // the stop comes while it waits to retry
    const tracker = start(fake);
    await until(() => fake.calls.some((c) => c.startsWith('step')), 'a first step');
    const stopped = runner!.stop();
    runner!.start();
    await stopped;
    fake.append(fakeEvent(2));
    runner!.wake();
    expect(await tracker.waitFor(fakeEvent(2).position, ['things'], 10_000)).toMatchObject({ stale: false });
    expect(fake.live).toEqual(['1', '2']);
  });

  it('a checkpoint moved by another runner makes its step stale: it reloads and goes on from there, applying nothing twice', async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1), fakeEvent(2), fakeEvent(3));
    let tookOver = false;
    const tracker = start(
      fake,
      projection((events) => {
        // While the first batch is being applied, another process's runner takes it and commits 1 and 2.
        if (!tookOver && events[0]!.position.pos === 1n) {
          tookOver = true;
          fake.record.position = fakeEvent(2).position;
          fake.live.push('1', '2');
        }
      }),
      { batchSize: 2 },
    );
    expect(await tracker.waitFor(fakeEvent(3).position, ['things'], 10_000)).toMatchObject({ stale: false });
    expect(fake.live).toEqual(['1', '2', '3']);
  });

  it('rebuilds blue/green: the live copy keeps serving and stepping while the shadow fills, then the shadow is swapped in', async () => {
    const fake = createFakeStorage('things');
    fake.append(fakeEvent(1), fakeEvent(2), fakeEvent(3));
    const tracker = start(fake, projection(), { batchSize: 2 });
    await tracker.waitFor(fakeEvent(3).position, ['things'], 10_000);
    fake.live.splice(0, fake.live.length, 'damaged');
    fake.record.state = 'REBUILDING';
    fake.append(fakeEvent(4));
    runner!.reload();
    await until(() => fake.record.state === 'RUNNING' && fake.calls.includes('swap'), 'the swap');
    expect(fake.calls.filter((c) => ['prepareShadow', 'completeShadow', 'swap'].includes(c))).toEqual([
      'prepareShadow',
      'completeShadow',
      'swap',
    ]);
    expect(fake.calls.some((c) => c.startsWith('step shadow'))).toBe(true);
    expect(fake.live).toEqual(['1', '2', '3', '4']);
    expect(fake.record.position).toEqual(fakeEvent(4).position);
  });

  it('a first build over a long log goes through the shadow copy without stepping the empty live copy', async () => {
    const fake = createFakeStorage('things');
    fake.append(...[1, 2, 3, 4, 5].map((n) => fakeEvent(n)));
    const tracker = start(fake, projection(), { batchSize: 2, firstBuildAsRebuildFrom: 5 });
    expect(await tracker.waitFor(fakeEvent(5).position, ['things'], 10_000)).toMatchObject({ stale: false });
    expect(fake.calls).toContain('beginRebuild');
    expect(fake.calls.filter((c) => c.startsWith('step live'))).toEqual([]);
    expect(fake.live).toEqual(['1', '2', '3', '4', '5']);
  });
});
