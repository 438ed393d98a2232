// The JetStream streams Converge writes to or reads from: created when missing, an existing one used as
// it is (only subjects it lacks are added to Converge's own stream), and failures of the broker told
// apart from failures of a message.
import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { InvalidArgumentError } from '@nats-io/transport-node';
import { UnavailableError } from '../../core/errors.ts';

/** JetStream's error codes this file reads. */
const STREAM_NOT_FOUND = 10059;
const MESSAGE_TOO_LARGE = 10054;

/** Converge's own stream `name` captures at least `subjects`: created if missing, given the ones it lacks. */
export async function ensureOwnStream(jsm: JetStreamManager, name: string, subjects: readonly string[]): Promise<void> {
  try {
    const info = await jsm.streams.info(name);
    const missing = subjects.filter((s) => !info.config.subjects?.includes(s));
    if (missing.length > 0) await jsm.streams.update(name, { subjects: [...(info.config.subjects ?? []), ...missing] });
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND)) throw error;
    await jsm.streams.add({ name, subjects: [...subjects] });
  }
}

/**
 * The stream that captures `subject`: an existing one whatever its name, else `fallback` created for it
 * (its subjects include `subject`). Returns the stream's name.
 */
export async function streamFor(
  jsm: JetStreamManager,
  subject: string,
  fallback: { name: string; subjects: readonly string[] },
): Promise<string> {
  try {
    return await jsm.streams.find(subject);
  } catch (error) {
    if (!(error instanceof Error && /no stream matches subject/i.test(error.message))) throw error;
  }
  await ensureOwnStream(jsm, fallback.name, fallback.subjects);
  return fallback.name;
}

/** Whether an error is the message's own (too large to publish), as opposed to the broker's (away, slow, refusing). */
export const isMessageFault = (error: unknown): boolean =>
  error instanceof InvalidArgumentError || (error instanceof JetStreamApiError && error.code === MESSAGE_TOO_LARGE);

/** The broker's failures become UnavailableError (tried again later); a message's own failure stays what it is. */
export function brokerError(error: unknown): unknown {
  if (error instanceof UnavailableError || isMessageFault(error)) return error;
  return new UnavailableError({ cause: error, message: `NATS is unavailable: ${error instanceof Error ? error.message : String(error)}` });
}
