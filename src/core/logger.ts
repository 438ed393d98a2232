// The logger every layer writes to: pino's shape (an object of details, then the message), so that the
// composition root can hand pino itself in. `child` adds bindings (a request id) to every line.

export type Logger = {
  debug(details: object, message?: string): void;
  info(details: object, message?: string): void;
  warn(details: object, message?: string): void;
  error(details: object, message?: string): void;
  child(bindings: Record<string, unknown>): Logger;
};

/** Logs nothing (tests, benchmarks, the CLI). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger };

/** An error as a log field: its message, never a stack that could carry SQL or data. */
export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
