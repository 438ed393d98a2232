// Which driver errors mean "the server is away or restarting" rather than "this statement is wrong".
// They become the core's UnavailableError at the executors (see executor.ts), with the original as cause.
import { UnavailableError } from '../../core/errors.ts';

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
]);

const codeOf = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

function isTransientDbError(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && (TRANSIENT_CODES.has(code) || code.startsWith('08'));
}

// No connection was made: nothing was sent.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'CONNECT_TIMEOUT']);

export function toCoreError(error: unknown): unknown {
  if (error instanceof UnavailableError || !isTransientDbError(error)) return error;
  // An answer of the server (a SQLSTATE outside class 08) rolled the statement back.
  const notCommitted = NOT_CONNECTED.has(codeOf(error)!) || isRefusedByServer(error);
  return new UnavailableError({ cause: error, notCommitted });
}

/** The driver's own error behind an UnavailableError (or the error itself). */
export const driverError = (error: unknown): unknown => (error instanceof UnavailableError ? error.cause : error);

/** A database outage, translated or not (for errors that reach a process-wide handler untranslated). */
export const isDatabaseUnavailable = (error: unknown) => error instanceof UnavailableError || isTransientDbError(error);

/**
 * An error the server answered a statement with (so, outside a transaction, it did not commit), as
 * opposed to a lost connection, after which the outcome is unknown.
 */
export function isRefusedByServer(error: unknown): boolean {
  const code = codeOf(driverError(error));
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08');
}
