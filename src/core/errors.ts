// The error vocabulary shared by every layer. Each carries its public `code` (docs/architecture.md,
// Errors); the GraphQL layer turns them into `extensions` and masks everything else.

export type Issue = { path: (string | number)[]; message: string };

export abstract class ConvergeError extends Error {
  abstract readonly code: string;
  /** Extra public fields that go to `extensions` beside `code`. */
  protected details(): Record<string, unknown> {
    return {};
  }
  /**
   * What a client may see: `code` and the details. A property (not a method) on purpose: graphql-js
   * copies `originalError.extensions` into the errors it wraps around one, e.g. for bad variables.
   */
  get extensions(): Record<string, unknown> {
    return { code: this.code, ...this.details() };
  }
}

export class ValidationError extends ConvergeError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly issues: Issue[],
    message?: string,
  ) {
    super(
      message ??
        (issues.length === 0
          ? 'Invalid input'
          : `Invalid input: ${issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`),
    );
  }
  protected override details() {
    return { issues: this.issues };
  }
}

export class NotFoundError extends ConvergeError {
  readonly code = 'NOT_FOUND';
}

export class RuleViolationError extends ConvergeError {
  readonly code = 'RULE_VIOLATION';
}

export class ConcurrencyConflictError extends ConvergeError {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number | 'no_stream',
    readonly actualVersion: number,
  ) {
    super(`Stream ${streamId} is at version ${actualVersion}, expected ${expectedVersion === 'no_stream' ? 'no stream' : expectedVersion}`);
  }
  protected override details() {
    return { actualVersion: this.actualVersion };
  }
}

export class IdempotencyConflictError extends ConvergeError {
  readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(readonly commandId: string) {
    super(`commandId ${commandId} was already used for a different command`);
  }
}

export class UnauthenticatedError extends ConvergeError {
  readonly code = 'UNAUTHENTICATED';
}

export class ForbiddenError extends ConvergeError {
  readonly code = 'FORBIDDEN';
}

/**
 * The database (or another backing service) cannot answer right now: a lost connection, a restart, a
 * deadlock. Infra turns driver errors into this one, so that no other layer knows a driver's codes.
 * For a command, `outcome` says whether anything may have been appended: "none" when it failed before
 * its append was sent, "unknown" when the connection went away during the append's commit.
 */
export class UnavailableError extends ConvergeError {
  readonly code = 'SERVICE_UNAVAILABLE';
  readonly outcome: 'none' | 'unknown' | undefined;
  /** Whether the statement surely did not commit (never sent, or refused by the server), as infra knows it. */
  readonly notCommitted: boolean;
  /** `message`: for another backing service than the database (a broker, an identity provider), what is away. */
  constructor(options?: { cause?: unknown; message?: string; outcome?: 'none' | 'unknown'; notCommitted?: boolean }) {
    super(options?.message ?? messageFor(options?.outcome), options);
    this.outcome = options?.outcome;
    this.notCommitted = options?.notCommitted ?? options?.outcome === 'none';
  }
  protected override details() {
    return { retryable: true, ...(this.outcome && { outcome: this.outcome }), http: { status: 503 } };
  }
}

function messageFor(outcome: 'none' | 'unknown' | undefined): string {
  if (outcome === 'unknown') {
    return 'The database connection was lost while the command was committed: it may or may not have been applied. Read before repeating it, or send a commandId so that a repeat is safe.';
  }
  if (outcome === 'none') return 'The database is unavailable right now and nothing was done; try the command again shortly.';
  return 'The database is unavailable right now; try again shortly (a command with a commandId can be retried safely).';
}

/** A tenant sent more commands than TENANT_COMMANDS_PER_SECOND allows; nothing was done. */
export class RateLimitedError extends ConvergeError {
  readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterMs: number) {
    super(`Too many commands for this tenant: try again in ${retryAfterMs} ms (nothing was done)`);
  }
  protected override details() {
    return {
      retryAfterMs: this.retryAfterMs,
      http: { status: 429, headers: { 'retry-after': String(Math.ceil(this.retryAfterMs / 1000)) } },
    };
  }
}

/** An answer about the command or query itself, which a retry would not change (not an outage). */
export const isDecided = (error: unknown): error is ConvergeError => error instanceof ConvergeError && !(error instanceof UnavailableError);
