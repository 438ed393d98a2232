// What each face tells live queries: the read-model keys a field reads (watchLive, in its resolvers), and
// for each projection the keys an advance of it touched (its LiveSource). A live query runs again when an
// advance touches a key it read; keys are the face's own words ('order:o-1', 'customer:c-1', ANY).
import type { Position } from '../core/position.ts';
import { type Builder, perBuilder } from './builder.ts';
import type { GraphQLContext, GraphQLServices } from './context.ts';

/** The key of "any row of the read model": what a read of a whole list (or a search) watches. */
export const ANY_ROW = '*';

export type LiveSource = {
  projection: string;
  /**
   * The keys the advance to `at` touched, given the streams it projected (run in their tenant; reads
   * must see at least `at`). Fails: every live query of that projection and tenant runs again.
   */
  keys(services: GraphQLServices, streamIds: readonly string[], at: Position): Promise<readonly string[]>;
};

/** The live sources of the faces, filled as they are built; the schema carries them (liveSourcesOf). */
export const liveSources = perBuilder((_builder: Builder): LiveSource[] => []);

const EXTENSION = 'convergeLiveSources';

/** The schema extension that hands the faces' live sources to the server (see schema.ts). */
export const liveSourcesExtension = (builder: Builder) => ({ [EXTENSION]: liveSources(builder) });

export const liveSourcesOf = (schema: { extensions: Record<string, unknown> }): readonly LiveSource[] =>
  (schema.extensions[EXTENSION] as LiveSource[] | undefined) ?? [];

/** A resolver reads `keys` of `projection`'s read model: a live query re-runs when an advance touches one. */
export function watchLive(ctx: GraphQLContext, projection: string, ...keys: string[]): void {
  if (ctx.live) for (const key of keys) ctx.live.watch(projection, key);
}
