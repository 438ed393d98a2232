// The connection to NATS (NATS_URL), kept for the life of the process: the first connection is tried again
// and again until it succeeds (NATS down at start stops nothing else), and later outages are the client's
// to reconnect. Users ask for the connection with a deadline: past it they get UnavailableError.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { UnavailableError } from '../../core/errors.ts';
import { errorText, type Logger } from '../../core/logger.ts';

export type JetStream = { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager };

export type NatsLinkOptions = {
  /** One or more nats:// URLs (of one cluster). */
  servers: readonly string[];
  log: Logger;
  /** Between two attempts at the first connection, and between reconnects. */
  retryMs?: number;
};

/** A way to wait for something with a deadline, woken when it arrives. */
class Waiters {
  private readonly waiting = new Set<() => void>();
  add(wake: () => void): () => void {
    this.waiting.add(wake);
    return () => this.waiting.delete(wake);
  }
  wakeAll(): void {
    for (const wake of [...this.waiting]) wake();
  }
}

export class NatsLink {
  private current: JetStream | undefined;
  private isConnected = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly arrivals = new Waiters();

  constructor(private readonly options: NatsLinkOptions) {}

  /** Starts connecting in the background. */
  start(): void {
    this.loop ??= this.connectLoop();
  }

  /** Whether the client is connected now (for /ready and /metrics). */
  connected(): boolean {
    return this.isConnected;
  }

  /** The connection and its JetStream contexts, once connected; UnavailableError after `timeoutMs` without one. */
  async jetstream(timeoutMs: number): Promise<JetStream> {
    if (this.current) return this.current;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const remove = this.arrivals.add(done);
      function done() {
        clearTimeout(timer);
        remove();
        resolve();
      }
    });
    if (!this.current) throw new UnavailableError({ message: `NATS is unavailable: not connected to ${this.where()}` });
    return this.current;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.arrivals.wakeAll();
    await this.loop;
    await this.current?.nc.close().catch(() => {});
  }

  private async connectLoop(): Promise<void> {
    const { log } = this.options;
    const url = this.where();
    const retryMs = this.options.retryMs ?? 1000;
    let logged = false;
    while (!this.stopped) {
      try {
        // maxReconnectAttempts -1: once connected, the client reconnects for ever, buffering what is published meanwhile.
        const nc = await connect({
          servers: [...this.options.servers],
          maxReconnectAttempts: -1,
          reconnectTimeWait: retryMs,
          name: 'converge',
        });
        if (this.stopped) {
          await nc.close();
          return;
        }
        this.current = { nc, js: jetstream(nc), jsm: await jetstreamManager(nc, { checkAPI: false }) };
        this.isConnected = true;
        log.info({ nats: url }, 'NATS connected');
        void this.watch(nc);
        this.arrivals.wakeAll();
        return;
      } catch (error) {
        if (!logged) log.warn({ nats: url, error: errorText(error) }, 'NATS not reachable; trying again in the background');
        logged = true;
        await new Promise<void>((resolve) => {
          this.retryTimer = setTimeout(resolve, retryMs);
        });
      }
    }
  }

  /** The servers for logs and errors, without any credentials their URLs carry. */
  where(): string {
    return this.options.servers.map((url) => url.replace(/\/\/[^@/]*@/, '//')).join(',');
  }

  private async watch(nc: NatsConnection): Promise<void> {
    const { log } = this.options;
    const url = this.where();
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.isConnected = false;
        log.warn({ nats: url }, 'NATS disconnected; reconnecting');
      } else if (status.type === 'reconnect') {
        this.isConnected = true;
        log.info({ nats: url }, 'NATS reconnected');
      }
    }
    this.isConnected = false;
  }
}
