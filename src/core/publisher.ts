// The publisher: a processor whose effects are messages to a broker (NATS JetStream, in infra/nats/). It
// runs as a projection does (one runner across instances, a checkpoint, pause and resume, FAILED on an
// event it cannot publish) over the modules' public events, in global order. Each message's id is its
// event's position, and the broker stores a message only right after the one before it (see
// IntegrationBroker.publish), so the stream holds a prefix of the public events; after any failure the
// publisher asks the broker where that prefix ends and skips what is there: nothing twice, nothing skipped.
import type { StoredEvent } from './messages.ts';
import { comparePositions, decodeToken, type Position } from './position.ts';
import { messageIdOf, type Publication, toCloudEvent } from './public-events.ts';
import type { SqlProjection } from './sql-projection.ts';
import { noTracing, type Tracing } from './tracing.ts';

/** The publisher's name in `projections`. */
export const PUBLISHER_NAME = 'integration_events';

/** One message: `id` is unique per event (the broker's de-duplication key), `body` the CloudEvent as JSON. */
export type IntegrationMessage = { id: string; subject: string; body: string };

/** The broker as the publisher needs it (infra/nats/jetstream-broker.ts). */
export type IntegrationBroker = {
  /** The id of the last message this service's stream holds; null when it holds none. */
  lastPublished(): Promise<string | null>;
  /**
   * Publishes `messages` in order and resolves once the broker has stored every one. Each is stored only
   * if the stream's last message is the one before it (the first: `previous`, null for an empty stream),
   * so a message lost on the way stops every later one rather than leaving a gap. Rejects with
   * UnavailableError when the broker cannot be reached or answered late (the step is tried again), with
   * any other error when a message itself cannot be published (the publisher fails on it).
   */
  publish(messages: readonly IntegrationMessage[], previous: string | null): Promise<void>;
};

export type PublisherOptions = {
  /** The tenant a message carries as the CloudEvents attribute `tenant` (TENANCY=multi); none by default. */
  tenantOf?: (event: StoredEvent) => string | undefined;
  /** A span for each publish (inside the step's, which links to the events' traces). */
  tracing?: Tracing;
};

/** How far the stream goes, as far as this publisher knows: unknown until asked, and again after a failure. */
type Published = { id: string; position: Position } | null;

/** The publisher as the projection runner runs it: no tables, and each step's effect is a publish. */
export function runAsPublisher(
  publications: ReadonlyMap<string, Publication>,
  broker: IntegrationBroker,
  options: PublisherOptions = {},
): SqlProjection {
  let published: Published | undefined;
  const tracing = options.tracing ?? noTracing;
  const toMessage = (event: StoredEvent): IntegrationMessage => {
    const publication = publications.get(event.type)!;
    const body = JSON.stringify(toCloudEvent(event, publication, options.tenantOf?.(event)));
    return { id: messageIdOf(event), subject: publication.subject, body };
  };
  return {
    name: PUBLISHER_NAME,
    kind: 'PUBLISHER',
    handles: new Set(publications.keys()),
    tables: [],
    async apply(events) {
      published ??= await lastPublished(broker);
      const after = published;
      // Events the stream holds already: published before a crash, or before a failed step, whose checkpoint did not move.
      const fresh = after ? events.filter((e) => comparePositions(e.position, after.position) > 0) : events;
      if (fresh.length === 0) return;
      const messages = fresh.map(toMessage);
      const attributes = {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.batch.message_count': messages.length,
        'messaging.destination.name': [...new Set(messages.map((m) => m.subject))].sort().join(','),
      };
      try {
        await tracing.span('publish', { kind: 'producer', attributes }, () => broker.publish(messages, after?.id ?? null));
      } catch (error) {
        published = undefined; // some may have been stored: ask again before the next try
        throw error;
      }
      const last = fresh.at(-1)!;
      published = { id: messages.at(-1)!.id, position: last.position };
    },
  };
}

async function lastPublished(broker: IntegrationBroker): Promise<Published> {
  const id = await broker.lastPublished();
  if (id === null) return null;
  try {
    return { id, position: decodeToken(id) };
  } catch {
    throw new Error(
      `the stream's last message has id ${JSON.stringify(id)}, which is not an event position: only Converge may write to it`,
    );
  }
}
