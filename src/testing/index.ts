// `converge/testing`: specifications for a team's own domain, in given / when / then form. Deciders are
// pure; projections and process managers run on an embedded PGlite with the project's migrations.
export { commandFor, SPEC_CALLER, SPEC_NOW } from './commands.ts';
export { type DeciderSpecification, deciderSpec } from './decider-spec.ts';
export { type ProcessManagerSpecification, processManagerSpec, type SentCommand } from './process-manager-spec.ts';
export { type ProjectionSpecification, projectionSpec } from './projection-spec.ts';
export { rowsOf, type SpecEvent, type TableRows } from './spec-database.ts';
export { causedCommandId } from '../core/process-manager.ts';
