// Given / when / then for process managers: given events it has handled already, when these events, then
// it sends exactly these commands (type, data and the commandId it derives from the event). The commands
// run against the real aggregates on an embedded PGlite, so that what the process decides from their
// answers (a reservation refused, say) is what the service would decide.
import assert from 'node:assert/strict';
import { createCommandBus } from '../core/command-bus.ts';
import type { CommandResult } from '../core/command-handler.ts';
import type { Command, StoredEvent } from '../core/messages.ts';
import { type Aggregate, registerAggregate } from '../core/module.ts';
import { type ProcessManager, runAsProjection } from '../core/process-manager.ts';
import { notAwaited } from './not-awaited.ts';
import { openSpecDatabase, type SpecDatabase, type SpecDatabaseOptions, type SpecEvent, type TableRows } from './spec-database.ts';

/** A command as a spec expects it: its type, data and commandId. */
export type SentCommand = { type: string; data: unknown; commandId: string | undefined };

/** The commands expected, or a function of the `when` events as stored (with their positions) that gives them. */
export type ExpectedCommands = readonly SentCommand[] | ((events: StoredEvent[]) => readonly SentCommand[]);

export type ProcessManagerSpecification = {
  /** Rows of its state, and events it has handled already (the commands those caused ran, and are not checked). */
  given(...facts: (TableRows | SpecEvent)[]): {
    when(...events: SpecEvent[]): {
      /** The commands it sent for the `when` events, in order. */
      then(expected: ExpectedCommands): Promise<void>;
    };
  };
  close(): Promise<void>;
};

export type ProcessManagerSpecOptions = SpecDatabaseOptions & {
  /** The aggregates its commands go to. */
  aggregates: readonly Aggregate<any, any, any>[];
};

/**
 * The process as the runner runs it, its commands recorded on their way to the aggregates. A new one for
 * each case: what it keeps between steps (the streams' starts) belongs to the database the case emptied.
 */
function recorded(processManager: ProcessManager, db: SpecDatabase, aggregates: ProcessManagerSpecOptions['aggregates']) {
  const bus = createCommandBus<Command, CommandResult>();
  for (const aggregate of aggregates) registerAggregate(bus, aggregate, { store: db.store });
  const sent: SentCommand[] = [];
  const dispatch = (command: Command) => {
    sent.push({ type: command.type, data: command.data, commandId: command.metadata.commandId });
    return bus.dispatch(command);
  };
  return { sent, run: runAsProjection(processManager, dispatch, db.store) };
}

/** `processManagerSpec(fulfilmentProcess, { aggregates: [...] })`: one embedded database for every case of a file. */
export function processManagerSpec(processManager: ProcessManager, options: ProcessManagerSpecOptions): ProcessManagerSpecification {
  let opened: Promise<SpecDatabase> | undefined;

  const check = async (facts: (TableRows | SpecEvent)[], events: SpecEvent[], expected: ExpectedCommands) => {
    const db = await (opened ??= openSpecDatabase(options));
    await db.reset();
    const { sent, run } = recorded(processManager, db, options.aggregates);
    for (const fact of facts) {
      if ('table' in fact) await db.insert(fact);
      else await db.append([fact]);
    }
    await db.project(run);
    sent.length = 0;
    const stored = await db.append(events);
    await db.project(run);
    assert.deepStrictEqual(sent, typeof expected === 'function' ? expected(stored) : expected);
  };

  return {
    given: (...facts) => ({
      when: (...events) => ({
        // biome-ignore lint/suspicious/noThenProperty: given/when/then is the specification's language (as Emmett's)
        then(expected, ...rest: unknown[]) {
          notAwaited(rest);
          return check(facts, events, expected);
        },
      }),
    }),
    async close() {
      if (opened) await (await opened).close();
    },
  };
}
