// Every projection and process manager the service runs, as its services list them (projections of
// each module in order, then process managers): tests never name them by hand.
import type { ProcessorKind } from '../../src/core/projection.ts';
import { MODULES } from '../../src/modules.ts';

const modules = MODULES.map((m) => m.module);

export const PROCESSORS: readonly { name: string; kind: ProcessorKind }[] = [
  ...modules.flatMap((m) => m.projections.map((p) => ({ name: p.name, kind: 'PROJECTION' as const }))),
  ...modules.flatMap((m) => (m.processManagers ?? []).map((pm) => ({ name: pm.name, kind: 'PROCESS_MANAGER' as const }))),
];

export const PROCESSOR_NAMES = PROCESSORS.map((p) => p.name);
