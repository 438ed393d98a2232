// ProjectionStorage in memory, for unit tests of the runner: a log of events, one record per projection,
// and read models as arrays of applied event positions (the live copy and a shadow copy). Steps are
// compare-and-set on the checkpoint, as the real storage's are; `failNext` makes the next steps throw.
import type { StoredEvent } from '../../src/core/messages.ts';
import { comparePositions, START, type Position } from '../../src/core/position.ts';
import type { ProjectionRecord, ProjectionStorage, StepResult } from '../../src/core/projection.ts';

/** What apply gets: the copy it writes to. */
export type FakeTx = { writes: string[] };

export function fakeEvent(n: number, type = 'ThingHappened', streamId = `s-${n}`): StoredEvent {
  return {
    type,
    data: { n },
    tenant: 'default',
    streamId,
    streamType: 'Thing',
    version: 1,
    schemaVersion: 1,
    metadata: {},
    position: { tx: BigInt(n), pos: BigInt(n) },
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

const after = (events: StoredEvent[], from: Position | null, limit: number) =>
  events.filter((e) => comparePositions(e.position, from ?? START) > 0).slice(0, limit);

const key = (p: Position) => `${p.tx}.${p.pos}`;

export function createFakeStorage(name: string) {
  const events: StoredEvent[] = [];
  const record: ProjectionRecord = {
    name,
    state: 'RUNNING',
    position: null,
    lastError: null,
    errorPosition: null,
    rebuildPosition: null,
    effects: null,
    updatedAt: null,
  };
  const live: string[] = [];
  let shadow: string[] | undefined;
  const calls: string[] = [];
  const failures: unknown[] = [];
  let failWhen: ((batch: StoredEvent[]) => unknown) | undefined;

  const samePosition = (a: Position | null, b: Position | null) => (a === null || b === null ? a === b : comparePositions(a, b) === 0);

  async function apply(target: string[], batch: StoredEvent[], fn: (events: StoredEvent[], tx: FakeTx) => Promise<void>) {
    const tx: FakeTx = { writes: [] };
    await fn(batch, tx);
    target.push(...tx.writes);
  }

  const storage: ProjectionStorage<FakeTx> = {
    async load() {
      calls.push('load');
      return { ...record };
    },
    async step(_name, target, from, limit, fn): Promise<StepResult> {
      calls.push(`step ${target} ${limit}`);
      const failure = failures.shift();
      if (failure) throw failure;
      const batch = after(events, from, limit);
      const refused = failWhen?.(batch);
      if (refused) throw refused;
      const last = batch.at(-1);
      const pending = last ? after(events, last.position, 1).length > 0 : false;
      if (!last) return { kind: 'applied', read: 0, to: null, pending };
      if (target === 'live') {
        if (!samePosition(record.position, from) || !['RUNNING', 'REBUILDING'].includes(record.state)) return { kind: 'stale' };
        const written: string[] = [];
        await apply(written, batch, fn);
        // The writes land with the checkpoint's compare-and-set, or not at all (another runner moved it).
        if (!samePosition(record.position, from)) return { kind: 'stale' };
        live.push(...written);
        record.position = last.position;
      } else {
        if (record.state !== 'REBUILDING' || !samePosition(record.rebuildPosition, from ?? START)) return { kind: 'stale' };
        const copy = [...shadow!];
        await apply(copy, batch, fn);
        shadow = copy;
        record.rebuildPosition = last.position;
      }
      return { kind: 'applied', read: batch.length, to: last.position, pending };
    },
    async fail(_name, error, at) {
      calls.push('fail');
      if (record.state !== 'RUNNING' && record.state !== 'REBUILDING') return;
      Object.assign(record, { state: 'FAILED', lastError: error, errorPosition: at });
    },
    async beginRebuild() {
      calls.push('beginRebuild');
      if (record.state !== 'RUNNING' || record.position !== null) return false;
      Object.assign(record, { state: 'REBUILDING', rebuildPosition: null });
      return true;
    },
    async prepareShadow() {
      calls.push('prepareShadow');
      if (record.state !== 'REBUILDING') return;
      shadow = [];
      record.rebuildPosition = START;
    },
    async completeShadow() {
      calls.push('completeShadow');
      return false;
    },
    async swap(_name, _tables, from, fn): Promise<StepResult> {
      calls.push('swap');
      if (record.state !== 'REBUILDING' || !samePosition(record.rebuildPosition, from ?? START)) return { kind: 'stale' };
      const copy = [...shadow!];
      const rest = after(events, from, Number.MAX_SAFE_INTEGER);
      if (rest.length > 0) await apply(copy, rest, fn);
      const at = rest.at(-1)?.position ?? from ?? START;
      live.splice(0, live.length, ...copy);
      shadow = undefined;
      const to = record.position && comparePositions(record.position, at) > 0 ? record.position : at;
      Object.assign(record, { state: 'RUNNING', rebuildPosition: null, position: to });
      return { kind: 'applied', read: 0, to };
    },
    async hasEvents(count) {
      return events.length >= count;
    },
  };

  return {
    storage,
    events,
    record,
    /** The live read model: the positions of the events applied to it, in order. */
    live,
    shadow: () => shadow,
    calls,
    /** The next steps throw these (one each). */
    failNext: (...errors: unknown[]) => failures.push(...errors),
    /** Steps whose batch `check` answers an error for throw it (before apply, as a lookup read would). */
    failWhen: (check: (batch: StoredEvent[]) => unknown) => (failWhen = check),
    append(...added: StoredEvent[]) {
      events.push(...added);
      events.sort((a, b) => comparePositions(a.position, b.position));
    },
    /** What apply writes for an event: its position. */
    writeOf: (event: StoredEvent) => key(event.position),
  };
}
