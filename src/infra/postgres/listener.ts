// LISTEN on a connection of its own that comes back by itself: after the connection is lost it reconnects
// (with backoff, for as long as it takes), LISTENs again on every channel and calls each onConnect, so
// that callers re-read what they may have missed. (postgres.js's own listen() gives up when its first
// reconnect attempt fails, e.g. while the server restarts.)
import { dedicatedConnection, type ConnectionSettings } from './connections.ts';

type Listener = { onNotify: (payload: string) => void; onConnect?: () => void };

const quoted = (channel: string) => `"${channel.replace(/"/g, '""')}"`;

export function createListener(url: string, connection: ConnectionSettings) {
  const channels = new Map<string, Set<Listener>>();
  let closed = false;
  let relistening: Promise<void> | undefined;
  // `onnotify` is postgres.js's own hook (not in its types), the one its listen() uses.
  const sql = dedicatedConnection(url, connection, 'listen', {
    fetch_types: false,
    onnotify: (channel: string, payload: string) => {
      for (const l of channels.get(channel) ?? []) l.onNotify(payload);
    },
    onclose: () => {
      if (!closed) void relisten();
    },
  } as Record<string, unknown>);
  const listenOn = (channel: string) => sql.unsafe(`listen ${quoted(channel)}`);

  function relisten(): Promise<void> {
    relistening ??= (async () => {
      // At most a quarter of a second apart: after a restart, waits and subscriptions hear of progress
      // again as soon as the server is back (one connect attempt costs it little).
      for (let delay = 50; !closed; delay = Math.min(delay * 2, 250)) {
        try {
          for (const channel of channels.keys()) await listenOn(channel);
          for (const set of channels.values()) for (const l of set) l.onConnect?.();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    })().finally(() => (relistening = undefined));
    return relistening;
  }

  return {
    async listen(channel: string, onNotify: (payload: string) => void, onConnect?: () => void) {
      const entry: Listener = { onNotify, onConnect };
      let set = channels.get(channel);
      if (!set) {
        set = new Set();
        channels.set(channel, set);
        await listenOn(channel);
      }
      set.add(entry);
      onConnect?.();
      return async () => {
        set.delete(entry);
        if (set.size === 0 && channels.get(channel) === set) {
          channels.delete(channel);
          await sql.unsafe(`unlisten ${quoted(channel)}`).catch(() => {});
        }
      };
    },
    async close() {
      closed = true;
      await sql.end({ timeout: 2 });
    },
  };
}
