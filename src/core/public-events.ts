// Public events: the events a module lets other services see, each with a versioned public shape (never
// its internal fields, never personal data), and the CloudEvents 1.0 message each one becomes. A module
// declares them (DomainModule.publicEvents); the publisher (publisher.ts) sends them.
import { isSealed } from './personal-data.ts';
import type { Event, StoredEvent } from './messages.ts';
import { encodeToken } from './position.ts';

/** What one event type looks like outside: `name` (subject converge.<module>.<name>), its shape's version, its data. */
export type PublicEvent<E extends Event = Event> = {
  name: string;
  /** Raised when the public shape changes incompatibly: it is part of the CloudEvents type (….v2). */
  version: number;
  /** The public shape: only what other services may rely on, never personal data in clear. */
  data(event: StoredEvent<E>): Record<string, unknown>;
};

/** A module's public events by event type. */
export type PublicEvents<E extends Event = Event> = { readonly [T in E['type']]?: PublicEvent<Extract<E, { type: T }>> };

/** `definePublicEvents<OrderStreamEvent>()({ OrderCreated: { name: 'created', version: 1, data } })`, typed per event. */
export const definePublicEvents =
  <E extends Event>() =>
  (events: PublicEvents<E>): PublicEvents =>
    events as PublicEvents;

/** A public event as it is published: where it goes and how it is typed. */
export type Publication = {
  subject: string;
  /** The end of the CloudEvents type, after converge.<stream type>.: `created.v1`. */
  typeSuffix: string;
  source: string;
  event: PublicEvent;
};

/** Subjects are converge.<module>.<name>; converge.dead.* carries dead letters, so no module may be called that. */
export const SUBJECT_PREFIX = 'converge';
export const DEAD_LETTER_MODULE = 'dead';

const NAME = /^[a-z][a-z0-9-]*$/;

/** Every module's publications by event type; a bad or repeated name refuses to start, in one line. */
export function publicationsOf(modules: readonly { name: string; publicEvents?: PublicEvents }[]): Map<string, Publication> {
  const publications = new Map<string, Publication>();
  const subjects = new Set<string>();
  for (const module of modules) {
    const declared = Object.entries(module.publicEvents ?? {}) as [string, PublicEvent][];
    if (declared.length === 0) continue;
    if (module.name === DEAD_LETTER_MODULE || !NAME.test(module.name)) {
      throw new Error(`module ${module.name} cannot publish events: its name must match ${NAME} and not be "${DEAD_LETTER_MODULE}"`);
    }
    for (const [eventType, event] of declared) {
      const subject = `${SUBJECT_PREFIX}.${module.name}.${event.name}`;
      if (!NAME.test(event.name) || !Number.isInteger(event.version) || event.version < 1) {
        throw new Error(`public event ${eventType} of module ${module.name}: its name must match ${NAME} and its version be 1 or more`);
      }
      if (subjects.has(subject)) throw new Error(`two public events of module ${module.name} are named ${event.name}`);
      subjects.add(subject);
      publications.set(eventType, {
        subject,
        typeSuffix: `${event.name}.v${event.version}`,
        source: `/${SUBJECT_PREFIX}/${module.name}`,
        event,
      });
    }
  }
  return publications;
}

/** The subjects of the modules that publish: converge.<module>.> each (what stream CONVERGE captures). */
export const publishedSubjects = (publications: ReadonlyMap<string, Publication>): string[] => [
  ...new Set([...publications.values()].map((p) => `${p.subject.slice(0, p.subject.lastIndexOf('.'))}.>`)),
];

/** A message's id: the event's position as a consistency token, unique per event and ordered like the events. */
export const messageIdOf = (event: StoredEvent): string => encodeToken(event.position);

export type CloudEvent = {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
  /** The extension attribute that says whose event it is (TENANCY=multi). */
  tenant?: string;
  /** The Distributed Tracing extension: the trace of the command that appended the event (tracing on). */
  traceparent?: string;
};

/**
 * The CloudEvents 1.0 form of `event`: type converge.<stream type>.<name>.v<version> (converge.order.created.v1),
 * subject its stream id, time when it was appended. `tenant` is set where tenancy is on.
 */
export function toCloudEvent(event: StoredEvent, publication: Publication, tenant?: string): CloudEvent {
  const data = publication.event.data(event);
  // A personal field reaches a public shape only sealed (the publisher reads events as stored): refuse it,
  // so that the publisher stops on this event (FAILED, naming it) rather than send anyone a customer's data.
  const personal = sealedPath(data);
  if (personal !== undefined) {
    throw new Error(`${event.type}'s public shape carries a personal field (${personal}): leave personal data out of public events`);
  }
  return {
    specversion: '1.0',
    id: messageIdOf(event),
    source: publication.source,
    type: `${SUBJECT_PREFIX}.${event.streamType.toLowerCase()}.${publication.typeSuffix}`,
    subject: event.streamId,
    time: event.createdAt,
    datacontenttype: 'application/json',
    data,
    ...(tenant !== undefined && { tenant }),
    ...(event.metadata.traceparent !== undefined && { traceparent: event.metadata.traceparent }),
  };
}

/** The path of the first sealed value in `value`, if any. */
function sealedPath(value: unknown, path = 'data'): string | undefined {
  if (isSealed(value)) return path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = sealedPath(inner, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
