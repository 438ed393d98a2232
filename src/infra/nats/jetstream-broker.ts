// The publisher's broker on NATS JetStream (core/publisher.ts, IntegrationBroker): stream CONVERGE,
// created when missing. Messages go out pipelined, each with its Nats-Msg-Id (JetStream de-duplicates a
// repeat within the stream's duplicate window) and the id of the one before it as Nats-Expected-Last-Msg-Id,
// so that JetStream stores each only right after its predecessor: one lost on the way (a restart, a
// timeout) makes every later one fail too, and the stream never has a gap to skip past.
import { headers } from '@nats-io/transport-node';
import type { IntegrationBroker, IntegrationMessage } from '../../core/publisher.ts';
import type { JetStream, NatsLink } from './connection.ts';
import { brokerError, ensureOwnStream } from './streams.ts';

export const CONVERGE_STREAM = 'CONVERGE';

export type JetStreamBrokerOptions = {
  /** What the stream must capture: converge.<module>.> for each module that publishes. */
  subjects: readonly string[];
  /** How long a publish may wait for its acknowledgement (and the first connection, for its step). */
  timeoutMs?: number;
  stream?: string;
};

export function createJetStreamBroker(link: NatsLink, options: JetStreamBrokerOptions): IntegrationBroker & { readonly stream: string } {
  const stream = options.stream ?? CONVERGE_STREAM;
  const timeoutMs = options.timeoutMs ?? 5000;
  // Looked at once, and again after any failure (the stream may have been deleted, or NATS restarted empty).
  let ensured = false;
  const ready = async (): Promise<JetStream> => {
    const jetstream = await link.jetstream(timeoutMs);
    if (!ensured) {
      await ensureOwnStream(jetstream.jsm, stream, options.subjects);
      ensured = true;
    }
    return jetstream;
  };
  const failed = (error: unknown) => {
    ensured = false;
    return brokerError(error);
  };

  return {
    stream,
    async lastPublished() {
      try {
        const { jsm } = await ready();
        // The last message of each module's subjects: the newest of them is the last one published.
        const lasts = await Promise.all(options.subjects.map((subject) => jsm.streams.getMessage(stream, { last_by_subj: subject })));
        const last = lasts.reduce((a, b) => (b && (!a || b.seq > a.seq) ? b : a), null);
        // A message without an id is not the publisher's: the publisher refuses it (an empty id) rather than guess.
        return last === null ? null : (last.header?.get('Nats-Msg-Id') ?? '');
      } catch (error) {
        throw failed(error);
      }
    },

    async publish(messages: readonly IntegrationMessage[], previous: string | null) {
      let js: JetStream['js'];
      try {
        ({ js } = await ready());
      } catch (error) {
        throw failed(error);
      }
      // All sent at once, in order, on one connection; JetStream stores them in the order they arrive.
      const acks = await Promise.allSettled(
        messages.map((message, i) => {
          const before = i === 0 ? previous : messages[i - 1]!.id;
          const h = headers();
          h.set('Content-Type', 'application/cloudevents+json');
          return js.publish(message.subject, message.body, {
            msgID: message.id,
            timeout: timeoutMs,
            headers: h,
            expect: before === null ? { streamName: stream } : { streamName: stream, lastMsgID: before },
          });
        }),
      );
      // The first failure is the one to report: the ones after it failed because of it.
      const failure = acks.find((ack) => ack.status === 'rejected');
      if (failure) throw failed(failure.reason);
    },
  };
}
