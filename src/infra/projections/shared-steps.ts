// Projections of one process woken by the same append step together: live steps asked for in the same
// turn of the event loop, from the same checkpoint and with the same limit, share one batch read and one
// write, so one commit instead of one per projection (docs/decisions/shared-steps.md). Only plain
// projections share: a process manager's commands or a publisher's messages would hold the others' commit
// back. Each projection keeps its own checkpoint, outcome and failures (see live-step.ts).
import { AsyncResource } from 'node:async_hooks';
import { START, type Position } from '../../core/position.ts';
import type { StepResult } from '../../core/projection.ts';
import { type LiveStepDeps, type LiveStepMember, liveSteps } from './live-step.ts';

type Waiting = LiveStepMember & { settle: (result: PromiseSettledResult<StepResult>) => void };
type Group = { from: Position | null; limit: number; members: Waiting[] };

export type SharedSteps = (member: LiveStepMember, from: Position | null, limit: number) => Promise<StepResult>;

export function sharedLiveSteps(deps: LiveStepDeps, shares: (name: string) => boolean): SharedSteps {
  let groups = new Map<string, Group>();
  let scheduled = false;

  const run = async ({ from, limit, members }: Group) => {
    let results: PromiseSettledResult<StepResult>[];
    try {
      results = await liveSteps(deps, from, limit, members);
    } catch (error) {
      results = members.map(() => ({ status: 'rejected', reason: error }));
    }
    for (const [i, member] of members.entries()) member.settle(results[i]!);
  };

  // In the check phase, right after the I/O callbacks (the wake-up) that started the steps: a lone step
  // waits for nothing else.
  const flush = () => {
    scheduled = false;
    const due = groups;
    groups = new Map();
    // In one order whoever asked first: one statement text per set of projections, and the checkpoint
    // rows locked in the same order by every process.
    for (const group of due.values()) void run({ ...group, members: group.members.sort((a, b) => (a.name < b.name ? -1 : 1)) });
  };

  return (member, from, limit) => {
    if (!shares(member.name)) return liveSteps(deps, from, limit, [member]).then(([result]) => unwrap(result!));
    return new Promise<StepResult>((resolve, reject) => {
      const at = from ?? START;
      // A projection once per group (two runners of one projection each step on their own).
      let key = `${at.tx} ${at.pos} ${limit}`;
      let group: Group | undefined;
      while ((group = groups.get(key))?.members.some((m) => m.name === member.name)) key += '+';
      if (!group) groups.set(key, (group = { from, limit, members: [] }));
      // Its apply and trace run in the caller's async context (its spans' parent), not the first caller's.
      group.members.push({
        name: member.name,
        apply: AsyncResource.bind(member.apply),
        trace: member.trace && AsyncResource.bind(member.trace),
        settle: (r) => (r.status === 'fulfilled' ? resolve(r.value) : reject(r.reason)),
      });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}

const unwrap = <T>(result: PromiseSettledResult<T>): T => {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
};
