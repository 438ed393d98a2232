// The files of a new domain: one aggregate with one command, one read model (its table, projection and
// query), its module and GraphQL face, and specs written with converge/testing. Modelled on Inventory.
import type { DomainNames } from './names.ts';

export type DomainFiles = Record<string, string>;

export function domainFiles(n: DomainNames): DomainFiles {
  const { folder, camel, snake, Aggregate, aggregate, aggregateFile, AGGREGATE } = n;
  const Event = `${Aggregate}Created`;
  const Command = `Create${Aggregate}`;
  return {
    'events.ts': `// The ${Aggregate} stream's events (the stream id is the ${aggregate}'s id). Times are ISO-8601 UTC.
import type { EventSchemas } from '../core/event-store.ts';
import type { Event } from '../core/messages.ts';

export const ${AGGREGATE}_STREAM_TYPE = '${Aggregate}';

export type ${Event} = Event<'${Event}', { id: string; name: string; createdAt: string }>;

export type ${Aggregate}Event = ${Event};

export const ${AGGREGATE}_EVENT_TYPES: readonly ${Aggregate}Event['type'][] = ['${Event}'];

/** Each event type's current schema version (bump it and add an upcaster when a shape changes). */
export const ${aggregate}EventSchemas: EventSchemas = Object.fromEntries(${AGGREGATE}_EVENT_TYPES.map((type) => [type, { version: 1 }]));
`,
    [`${aggregateFile}.ts`]: `// The ${Aggregate} aggregate's state and evolve: only what the rules of decide need.
import { assertNever } from '../core/messages.ts';
import type { ${Aggregate}Event } from './events.ts';

export type ${Aggregate}State = { status: 'NONE' } | { status: 'CREATED'; id: string };

export const initialState = (): ${Aggregate}State => ({ status: 'NONE' });

export function evolve(_state: ${Aggregate}State, event: ${Aggregate}Event): ${Aggregate}State {
  switch (event.type) {
    case '${Event}':
      return { status: 'CREATED', id: event.data.id };
    default:
      return assertNever(event.type, '${aggregate} event');
  }
}
`,
    [`commands/create-${aggregateFile}.ts`]: `// ${Command} (admin): a new ${aggregate} with its id and name; an id that is taken is a rule violation.
import { z } from 'zod';
import { assertAdmin } from '../../core/caller.ts';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, id, requiredText } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { ${Event} } from '../events.ts';
import type { ${Aggregate}State } from '../${aggregateFile}.ts';

export const create${Aggregate}Input = z.object({ commandId: commandId.optional(), id, name: requiredText(200) });

export type ${Command} = Command<'${Command}', Omit<z.output<typeof create${Aggregate}Input>, 'commandId'>>;

export function decide${Command}(command: ${Command}, state: ${Aggregate}State): [${Event}] {
  assertAdmin(command.metadata.caller, 'create a ${aggregate}');
  const { id, name } = command.data;
  if (state.status !== 'NONE') throw new RuleViolationError(\`${Aggregate} \${id} already exists\`);
  return [{ type: '${Event}', data: { id, name, createdAt: command.metadata.now.toISOString() } }];
}
`,
    'decider.ts': `// The ${Aggregate} decider: each command's decide behind one exhaustive switch.
import type { Decider } from '../core/decider.ts';
import { assertNever } from '../core/messages.ts';
import { type ${Command}, decide${Command} } from './commands/create-${aggregateFile}.ts';
import type { ${Aggregate}Event } from './events.ts';
import { evolve, initialState, type ${Aggregate}State } from './${aggregateFile}.ts';

export type ${Aggregate}Command = ${Command};

export function decide(command: ${Aggregate}Command, state: ${Aggregate}State): ${Aggregate}Event[] {
  switch (command.type) {
    case '${Command}':
      return decide${Command}(command, state);
    default:
      return assertNever(command.type, '${aggregate} command');
  }
}

export const ${aggregate}Decider: Decider<${Aggregate}Command, ${Aggregate}Event, ${Aggregate}State> = { decide, evolve, initialState };
`,
    [`${aggregateFile}-aggregate.ts`]: `// The ${Aggregate} aggregate as the command side runs it: its decider, its commands' inputs, and its
// stream rule (a ${aggregate}'s stream is its id; creating one reads it, so that a taken id is RULE_VIOLATION).
import type { Aggregate } from '../core/module.ts';
import { create${Aggregate}Input } from './commands/create-${aggregateFile}.ts';
import { type ${Aggregate}Command, ${aggregate}Decider } from './decider.ts';
import { ${AGGREGATE}_STREAM_TYPE, type ${Aggregate}Event } from './events.ts';
import type { ${Aggregate}State } from './${aggregateFile}.ts';

export const ${aggregate}Aggregate: Aggregate<${Aggregate}Command, ${Aggregate}Event, ${Aggregate}State> = {
  streamType: ${AGGREGATE}_STREAM_TYPE,
  decider: ${aggregate}Decider,
  inputs: { ${Command}: create${Aggregate}Input },
  streamId: (command) => command.data.id,
};
`,
    [`read-models/${folder}.ts`]: `// The \`${snake}\` read model: one row per ${aggregate}, the projection that keeps it, and the ${aggregate}(id)
// query that reads it.
import { sql } from 'drizzle-orm';
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { id } from '../../core/input-fields.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { defineSqlProjection } from '../../core/sql-projection.ts';
import { type RowOf, selectList } from '../../core/tables.ts';
import { parseWith } from '../../core/validation.ts';
import { ${AGGREGATE}_EVENT_TYPES, type ${Aggregate}Event } from '../events.ts';

export const ${AGGREGATE}S_PROJECTION = '${snake}';

export const ${camel}Table = pgTable('${snake}', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  version: integer('version').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).notNull(),
});

export type ${Aggregate}View = RowOf<typeof ${camel}Table>;

export const ${camel}Projection = defineSqlProjection<${Aggregate}Event>()({
  name: ${AGGREGATE}S_PROJECTION,
  handles: ${AGGREGATE}_EVENT_TYPES,
  tables: [${camel}Table],
  apply(events, { upsert }) {
    upsert(
      ${camel}Table,
      events.map((event) => ({ id: event.data.id, name: event.data.name, version: event.version, createdAt: event.data.createdAt })),
    );
  },
});

export const ${aggregate}Params = z.object({ id });
export type ${Aggregate}Params = z.input<typeof ${aggregate}Params>;

const VIEW = sql.raw(selectList(${camel}Table));

/** ${aggregate}(id): one ${aggregate}, or null. */
export const ${aggregate}Query: QueryDefinition<${Aggregate}Params, ${Aggregate}View | null> = {
  projections: [${AGGREGATE}S_PROJECTION],
  create: ({ db }) =>
    async function ${aggregate}(params) {
      const { id } = parseWith(${aggregate}Params, params);
      const [row] = await db.rows<${Aggregate}View>(sql\`select \${VIEW} from ${snake} where id = \${id}\`);
      return row ?? null;
    },
};
`,
    'module.ts': `// The ${Aggregate} domain as a DomainModule: its aggregate, its events, and the \`${snake}\` read model.
import { defineModule, type QueryTypes } from '../core/module.ts';
import { ${aggregate}EventSchemas } from './events.ts';
import { ${aggregate}Aggregate } from './${aggregateFile}-aggregate.ts';
import { ${camel}Projection, ${aggregate}Query } from './read-models/${folder}.ts';

export const ${camel}Module = defineModule({
  name: '${folder}',
  events: ${aggregate}EventSchemas,
  aggregates: [${aggregate}Aggregate],
  projections: [${camel}Projection],
  queries: { ${aggregate}: ${aggregate}Query },
});

export type ${Aggregate}Queries = QueryTypes<typeof ${camel}Module.queries>;
`,
    'graphql.ts': `// The ${Aggregate} domain's GraphQL face: the ${Aggregate} type, its query and its mutation. Resolvers only
// parse, dispatch and shape.
import type { CommandResult } from '../core/command-handler.ts';
import type { Builder } from '../graphql/builder.ts';
import { dispatchCommand } from '../graphql/commands.ts';
import { readAfter } from '../graphql/consistency.ts';
import { type GraphQLContext, queriesOf } from '../graphql/context.ts';
import { ${aggregate}Aggregate } from './${aggregateFile}-aggregate.ts';
import type { ${Aggregate}Queries } from './module.ts';
import type { ${Aggregate}View } from './read-models/${folder}.ts';

const queries = (ctx: GraphQLContext) => queriesOf<${Aggregate}Queries>(ctx);

export function ${camel}GraphQL(builder: Builder): void {
  const ${Aggregate}Ref = builder.objectRef<${Aggregate}View>('${Aggregate}').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      name: t.exposeString('name'),
      version: t.exposeInt('version'),
      createdAt: t.field({ type: 'DateTime', resolve: (row) => row.createdAt }),
    }),
  });

  const ${Aggregate}PayloadRef = builder.objectRef<CommandResult>('${Aggregate}Payload').implement({
    fields: (t) => ({
      id: t.field({ type: 'ID', resolve: (r) => r.streamId }),
      version: t.exposeInt('version'),
      consistencyToken: t.field({ type: 'ConsistencyToken', resolve: (r) => r.consistencyToken }),
      ${aggregate}: t.field({
        type: ${Aggregate}Ref,
        nullable: true,
        description: 'The read model, once it has caught up with consistencyToken.',
        resolve: (r, _args, ctx) => readAfter(ctx, r.position, (q) => queries(ctx).execute('${aggregate}', { id: r.streamId }, q)),
      }),
    }),
  });

  const ${Command}Input = builder.inputType('${Command}Input', {
    fields: (t) => ({ commandId: t.id(), id: t.id({ required: true }), name: t.string({ required: true }) }),
  });

  builder.queryFields((t) => ({
    ${aggregate}: t.field({
      type: ${Aggregate}Ref,
      nullable: true,
      args: { id: t.arg.id({ required: true }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, args, ctx) => readAfter(ctx, args.after, (q) => queries(ctx).execute('${aggregate}', { id: args.id }, q)),
    }),
  }));

  builder.mutationFields((t) => ({
    create${Aggregate}: t.field({
      type: ${Aggregate}PayloadRef,
      description: 'Admin only.',
      args: { input: t.arg({ type: ${Command}Input, required: true }) },
      resolve: (_root, { input }, ctx) => dispatchCommand(ctx, ${aggregate}Aggregate.inputs, '${Command}', input),
    }),
  }));
}
`,
    'index.ts': `// The ${Aggregate} domain as the service composes it: its module and its GraphQL face.
import { ${camel}GraphQL } from './graphql.ts';
import { ${camel}Module } from './module.ts';

export const ${camel} = { module: ${camel}Module, graphql: ${camel}GraphQL };
`,
    'decider.unit.test.ts': `// The ${Aggregate} decider, given / when / then.
import { describe, it } from 'vitest';
import type { Caller } from '../core/caller.ts';
import { ForbiddenError, RuleViolationError } from '../core/errors.ts';
import { commandFor, deciderSpec, SPEC_NOW } from '../testing/index.ts';
import { type ${Aggregate}Command, ${aggregate}Decider } from './decider.ts';
import type { ${Aggregate}Event } from './events.ts';
import { ${aggregate}Aggregate } from './${aggregateFile}-aggregate.ts';

const spec = deciderSpec(${aggregate}Decider);
const created: ${Aggregate}Event = { type: '${Event}', data: { id: 'x-1', name: 'First', createdAt: SPEC_NOW.toISOString() } };
const create = (caller?: Caller) =>
  commandFor<${Aggregate}Command, '${Command}'>(${aggregate}Aggregate, '${Command}', { id: 'x-1', name: 'First' }, caller ? { caller } : {});

describe('${Command}', () => {
  it('given nothing, creates the ${aggregate} with its time from the metadata', () => {
    spec.given([]).when(create()).then([created]);
  });

  it('given the ${aggregate}, refuses to create it again', () => {
    spec.given([created]).when(create()).thenThrows(RuleViolationError, /already exists/);
  });

  it('refuses a caller who is not an admin', () => {
    spec.given([]).when(create({ userId: 'alice', roles: ['customer'] })).thenThrows(ForbiddenError);
  });
});
`,
    [`read-models/${folder}.int.test.ts`]: `// The \`${snake}\` projection, given / when / then on an embedded PGlite.
import { afterAll, describe, it } from 'vitest';
import { projectionSpec, rowsOf, type SpecEvent } from '../../testing/index.ts';
import { ${AGGREGATE}_STREAM_TYPE, type ${Aggregate}Event } from '../events.ts';
import { ${camel}Projection, ${camel}Table } from './${folder}.ts';

const spec = projectionSpec(${camel}Projection);
afterAll(() => spec.close());

const at = '2026-01-01T00:00:00.000Z';
const created = (id: string, name: string): SpecEvent<${Aggregate}Event> => ({
  streamId: id,
  streamType: ${AGGREGATE}_STREAM_TYPE,
  type: '${Event}',
  data: { id, name, createdAt: at },
});

describe('${snake} projection', () => {
  it('when ${aggregate}s are created, then each has its row', async () => {
    await spec
      .given(created('x-1', 'First'))
      .when(created('x-2', 'Second'))
      .then(
        rowsOf(${camel}Table, [
          { id: 'x-1', name: 'First', version: 1, createdAt: at },
          { id: 'x-2', name: 'Second', version: 1, createdAt: at },
        ]),
      );
  });
});
`,
  };
}
