// Integration events, wired (NATS_URL): the connection to NATS, the broker the publisher writes the modules'
// public events to (run by the projection host as processor `integration_events`), and a consumer for each
// subject the modules take in. Without NATS_URL none of it exists and nothing changes.
import type { CommandResult } from './core/command-handler.ts';
import type { Logger } from './core/logger.ts';
import type { Command, StoredEvent } from './core/messages.ts';
import type { Tenancy } from './core/tenancy.ts';
import type { DomainModule } from './core/module.ts';
import { publicationsOf, publishedSubjects } from './core/public-events.ts';
import type { IntegrationBroker, PublisherOptions } from './core/publisher.ts';
import type { Tracing } from './core/tracing.ts';
import { NatsLink } from './infra/nats/connection.ts';
import { InboundConsumer, type InboundObserver } from './infra/nats/inbound-consumer.ts';
import { createJetStreamBroker } from './infra/nats/jetstream-broker.ts';

export type IntegrationOptions = {
  servers: readonly string[];
  modules: readonly DomainModule[];
  /** TENANCY: with multi, each message out carries its tenant, and each message in must name one. */
  tenancy: Tenancy;
  log: Logger;
  observe?: InboundObserver;
  /** How long a publish waits for its acknowledgement (5 s). */
  publishTimeoutMs?: number;
  /** Between attempts to reach NATS, and before a message is delivered again after the service's own failure. */
  retryMs?: number;
  /** Each inbound message's command in a span (continuing the message's trace, if it names one). */
  tracing?: Tracing;
};

export type Integration = {
  /** For createServices: the publisher's broker (and, with many tenants, the tenant of each message). */
  publisher: PublisherOptions & { broker: IntegrationBroker };
  /** Connects in the background; consumes the inbound subjects when `dispatch` is given (where processors run). */
  start(dispatch?: (command: Command) => Promise<CommandResult>): void;
  stop(): Promise<void>;
  /** For /ready: never makes the service unready (the publisher catches up once NATS is back). */
  status(): { connected: boolean; servers: string };
};

export function createIntegration(options: IntegrationOptions): Integration {
  const { modules, log } = options;
  const link = new NatsLink({ servers: options.servers, log, retryMs: options.retryMs });
  const broker = createJetStreamBroker(link, {
    subjects: publishedSubjects(publicationsOf(modules)),
    timeoutMs: options.publishTimeoutMs,
  });
  let consumers: InboundConsumer[] = [];
  return {
    publisher: { broker, ...(options.tenancy === 'multi' && { tenantOf: (event: StoredEvent) => event.tenant }) },
    start(dispatch) {
      link.start();
      if (!dispatch) return;
      const requireTenant = options.tenancy === 'multi';
      consumers = modules
        .flatMap((m) => m.inbound ?? [])
        .map(
          (inbound) =>
            new InboundConsumer({
              link,
              inbound,
              dispatch,
              log,
              observe: options.observe,
              retryMs: options.retryMs,
              requireTenant,
              tracing: options.tracing,
            }),
        );
      for (const consumer of consumers) consumer.start();
    },
    async stop() {
      await Promise.all(consumers.map((c) => c.stop()));
      consumers = [];
      await link.close();
    },
    status: () => ({ connected: link.connected(), servers: link.where() }),
  };
}
