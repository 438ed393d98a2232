// Consumes one inbound subject (core/inbound.ts) through a durable JetStream pull consumer that every
// instance shares (each message goes to one of them). A message applied, or applied before, is
// acknowledged; one that cannot be applied is copied to its dead-letter subject with the reason, then
// acknowledged; one that failed for the service's own reasons (the database away) is delivered again.
// Nothing a message holds stops the consumer; losing NATS only pauses it.
import { AckPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { CommandResult } from '../../core/command-handler.ts';
import { type InboundMessages, type InboundOptions, type InboundOutcome, receiveInbound } from '../../core/inbound.ts';
import { errorText, type Logger } from '../../core/logger.ts';
import type { Command } from '../../core/messages.ts';
import type { JetStream, NatsLink } from './connection.ts';
import { streamFor } from './streams.ts';

/** Where dead letters go when no stream captures their subject yet. */
export const DEAD_LETTER_STREAM = { name: 'CONVERGE_DEAD', subjects: ['converge.dead.>'] } as const;

/** How long a message may stay unacknowledged before JetStream delivers it again. */
const ACK_WAIT_NS = 30_000_000_000;
/** The wait before a message that failed for the service's own reasons is delivered again. */
const RETRY_MS = 2000;

export type InboundObserver = (subject: string, outcome: InboundOutcome['outcome'] | 'retried', code?: string) => void;

export type InboundConsumerOptions = InboundOptions & {
  link: NatsLink;
  inbound: InboundMessages;
  dispatch: (command: Command) => Promise<CommandResult>;
  log: Logger;
  observe?: InboundObserver;
  retryMs?: number;
};

export class InboundConsumer {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(private readonly options: InboundConsumerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pause) {
      clearTimeout(this.pause.timer);
      this.pause.resolve();
    }
    await this.messages?.close().catch(() => {});
    await this.loop;
  }

  private async run(): Promise<void> {
    const { inbound, log } = this.options;
    while (!this.stopped) {
      try {
        const jetstream = await this.options.link.jetstream(this.options.retryMs ?? RETRY_MS);
        const stream = await this.prepare(jetstream);
        const consumer = await jetstream.js.consumers.get(stream, inbound.durable);
        this.messages = await consumer.consume({ max_messages: 100 });
        // Not awaited: close() settles when the iteration below ends (at once, once closed); awaited here,
        // before anything iterates, it never did, and stop() hung.
        if (this.stopped) void this.messages.close().catch(() => {});
        log.info({ subject: inbound.subject, stream }, 'consuming inbound messages');
        for await (const message of this.messages) await this.handle(jetstream, message);
      } catch (error) {
        if (!this.stopped) log.warn({ subject: inbound.subject, error: errorText(error) }, 'inbound consumer interrupted; starting again');
      }
      this.messages = undefined;
      if (!this.stopped) await this.wait(this.options.retryMs ?? RETRY_MS);
    }
  }

  /** The stream that captures the subject (PAYMENTS created when none does) and the durable consumer on it. */
  private async prepare({ jsm }: JetStream): Promise<string> {
    const { inbound } = this.options;
    const stream = await streamFor(jsm, inbound.subject, inbound.stream);
    await streamFor(jsm, inbound.deadLetterSubject, DEAD_LETTER_STREAM);
    await jsm.consumers.add(stream, {
      durable_name: inbound.durable,
      filter_subject: inbound.subject,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ACK_WAIT_NS,
    });
    return stream;
  }

  private async handle(jetstream: JetStream, message: JsMsg): Promise<void> {
    const { inbound, log, observe } = this.options;
    const where = { subject: inbound.subject, stream: message.info.stream, sequence: message.seq };
    let outcome: InboundOutcome;
    try {
      outcome = await receiveInbound(inbound, message.string(), this.options.dispatch, this.options);
    } catch (error) {
      log.warn({ ...where, error: errorText(error) }, 'inbound message not applied now; it will be delivered again');
      observe?.(inbound.subject, 'retried');
      message.nak(this.options.retryMs ?? RETRY_MS);
      return;
    }
    if (outcome.outcome === 'dead') {
      try {
        await this.deadLetter(jetstream, message, outcome.reason);
      } catch (error) {
        log.warn({ ...where, error: errorText(error) }, 'dead letter not published; the message will be delivered again');
        observe?.(inbound.subject, 'retried');
        message.nak(this.options.retryMs ?? RETRY_MS);
        return;
      }
      log.warn({ ...where, code: outcome.code, reason: outcome.reason }, `inbound message dead-lettered to ${inbound.deadLetterSubject}`);
      observe?.(inbound.subject, 'dead', outcome.code);
    } else {
      observe?.(inbound.subject, 'applied');
    }
    message.ack();
  }

  /** Copies the message to the dead-letter subject with the reason (once: its id is the original's place). */
  private async deadLetter({ js }: JetStream, message: JsMsg, reason: string): Promise<void> {
    const h = headers();
    h.set('Converge-Dead-Reason', reason.slice(0, 1000).replace(/[\r\n]+/g, ' '));
    const body = {
      reason,
      subject: message.subject,
      stream: message.info.stream,
      sequence: message.seq,
      receivedAt: new Date().toISOString(),
      message: message.string(),
    };
    await js.publish(this.options.inbound.deadLetterSubject, JSON.stringify(body), {
      msgID: `${message.info.stream}:${message.seq}`,
      headers: h,
    });
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.pause = { timer: setTimeout(resolve, ms), resolve };
    });
  }
}
