// The GraphQL operations the console sends, and the shapes of their answers (schema.graphql has the rest).

/** A projection, process manager or publisher: `kind` is shown as the server names it. */
export type Processor = {
  name: string;
  kind: string;
  state: 'RUNNING' | 'PAUSED' | 'REBUILDING' | 'FAILED';
  position: string | null;
  lagEvents: number;
  lagSeconds: number;
  rebuildLagEvents: number | null;
  lastError: string | null;
  updatedAt: string | null;
};

export type Replica = { name: string; state: string; lagSeconds: number | null; reason: string | null };

export type LogSample = { head: string | null; headAt: string | null; appendedEvents: number; sampledAt: string };

export type Progress = { projection: string; position: string | null; caughtUp: boolean };

const STATUS = 'name kind state position lagEvents lagSeconds rebuildLagEvents lastError updatedAt';
const LOG = 'head headAt appendedEvents sampledAt';

export const OVERVIEW = `query ConsoleOverview {
  projections { ${STATUS} }
  replicas { name state lagSeconds reason }
  eventLog { ${LOG} }
}`;
export type Overview = { projections: Processor[]; replicas: Replica[]; eventLog: LogSample };

export const STATUSES = `query ConsoleStatuses { projections { ${STATUS} } replicas { name state lagSeconds reason } }`;
export type Statuses = Omit<Overview, 'eventLog'>;

export const PROGRESS = 'subscription ConsoleProgress { projectionProgress { projection position caughtUp } }';
export const LOG_SAMPLES = `subscription ConsoleLog { eventLog { ${LOG} } }`;

export type Action = 'pause' | 'resume' | 'rebuild';
const MUTATIONS: Record<Action, string> = { pause: 'pauseProjection', resume: 'resumeProjection', rebuild: 'rebuildProjection' };

export const mutationOf = (action: Action) => ({
  field: MUTATIONS[action],
  query: `mutation Console($name: String!) { ${MUTATIONS[action]}(name: $name) { ${STATUS} } }`,
});
