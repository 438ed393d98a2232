// A private nats-server with JetStream per test file (nats-server -js on a spare port, its store in a temp
// folder), which a test may kill and start again; and readers of what a stream holds.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort } from './processes.ts';

/** Why the tests that need a nats-server are skipped, or undefined when the binary is there. */
export const natsMissing = spawnSync('nats-server', ['--version']).status === 0 ? undefined : 'nats-server is not installed';

export type NatsServer = {
  url: string;
  port: number;
  /** Stops it (SIGTERM, or SIGKILL: killed mid-write) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and removes its store. */
  close(): Promise<void>;
};

const reachable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A nats-server -js on a free port (or `port`); `started: false` leaves it stopped until start(). */
export async function startNatsServer(options: { port?: number; started?: boolean } = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'converge-nats-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
      exited = new Promise((resolve) => child!.once('exit', () => resolve()));
      const deadline = Date.now() + 15_000;
      while (!(await reachable(port))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start on port ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      child?.kill(signal);
      await exited;
      child = undefined;
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.started !== false) await server.start();
  return server;
}

export const natsClient = (url: string): Promise<NatsConnection> => connect({ servers: url });

/** Every message `stream` holds, in order (none when the stream does not exist). */
export async function streamMessages(nc: NatsConnection, stream: string): Promise<StoredMsg[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream).catch(() => undefined);
  if (!info) return [];
  const messages: StoredMsg[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message) messages.push(message);
  }
  return messages;
}

/** Resolves once `stream` holds `count` messages, woken by each one that arrives (an ordered consumer). */
export async function awaitStreamCount(nc: NatsConnection, stream: string, count: number, timeoutMs = 30_000): Promise<void> {
  const { jetstream } = await import('@nats-io/jetstream');
  const js = jetstream(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const consumer = await js.consumers.get(stream);
      const messages = await consumer.consume();
      let seen = 0;
      const timer = setTimeout(() => void messages.close(), Math.max(0, deadline - Date.now()));
      for await (const _ of messages) {
        if (++seen >= count) break;
      }
      clearTimeout(timer);
      await messages.close().catch(() => {});
      if (seen >= count) return;
      throw new Error(`stream ${stream} holds ${seen} messages after ${timeoutMs} ms, not ${count}`);
    } catch (error) {
      // The stream may not exist yet: the publisher creates it once NATS answers.
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
