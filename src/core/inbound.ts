// Inbound messages: what another service tells Converge through a broker becomes a command, through the
// same bus as every other, with a commandId derived from the message so that a redelivery changes
// nothing. A module declares the subjects it consumes (DomainModule.inbound); infra/nats consumes them.
// A message that cannot be applied (invalid, an unknown aggregate, a rule it breaks) is not retried: it
// goes to a dead-letter subject with the reason, and the consumer goes on.
import { createHash } from 'node:crypto';
import { noTracing, type Tracing } from './tracing.ts';
import { TENANT_PATTERN } from './tenancy.ts';
import type { CommandResult } from './command-handler.ts';
import { ConcurrencyConflictError, ConvergeError, UnavailableError, ValidationError } from './errors.ts';
import { INTERNAL_COMMAND_ID_PREFIX } from './input-fields.ts';
import type { Command } from './messages.ts';

/** What a message carries besides its body. */
export type InboundContext = {
  /** The message's `tenant` field (TENANCY=multi needs one; see receiveInbound). */
  tenant?: string;
};

export type InboundMessages = {
  /** The subject consumed, such as payments.captured. */
  subject: string;
  /** The stream created for it when no stream captures `subject` yet (an existing one is used as it is). */
  stream: { name: string; subjects: readonly string[] };
  /** The durable consumer every instance shares: each message goes to one of them. */
  durable: string;
  /** Where a message that cannot be applied goes, with the reason: converge.dead.<something>. */
  deadLetterSubject: string;
  /**
   * The command a message asks for (its body, parsed as JSON), its commandId derived from the message
   * (see inboundCommandId); throws ValidationError when the message is not what the subject carries.
   */
  command(body: unknown, context: InboundContext): Command;
};

export type InboundOutcome =
  /** The command ran (or had run before, for a redelivery: the same result, nothing appended). */
  | { outcome: 'applied'; result: CommandResult }
  /** The message cannot be applied, ever: dead-lettered with `reason` (`code` is the error's public code). */
  | { outcome: 'dead'; code: string; reason: string };

/**
 * Whether the tenant of a message must be given (TENANCY=multi); `tracing`: each message's command in a
 * span that continues the trace its CloudEvents `traceparent` attribute names, if any.
 */
export type InboundOptions = { requireTenant?: boolean; tracing?: Tracing };

/**
 * Turns one message into its command and dispatches it. Rejects only when the failure is not the
 * message's (the database is away, other writers kept winning): the message is then delivered again.
 */
export async function receiveInbound(
  inbound: InboundMessages,
  payload: string,
  dispatch: (command: Command) => Promise<CommandResult>,
  options: InboundOptions = {},
): Promise<InboundOutcome> {
  try {
    const body = parseJson(payload);
    // With one tenant (TENANCY=single) a message's tenant field means nothing: everything is the default's.
    const tenant = options.requireTenant ? tenantOf(body) : undefined;
    if (options.requireTenant && (tenant === undefined || !TENANT_PATTERN.test(tenant))) {
      throw new ValidationError([{ path: ['tenant'], message: 'is required (TENANCY=multi): 1 to 64 of a-z, 0-9 and -' }]);
    }
    const command = inbound.command(body, { tenant });
    const tracing = options.tracing ?? noTracing;
    if (!tracing.enabled) return { outcome: 'applied', result: await dispatch(command) };
    const traceparent = (body as { traceparent?: unknown } | null)?.traceparent;
    const span = {
      kind: 'consumer' as const,
      parent: typeof traceparent === 'string' ? traceparent : undefined,
      attributes: { 'messaging.system': 'nats', 'messaging.destination.name': inbound.subject },
    };
    return { outcome: 'applied', result: await tracing.span(`receive ${inbound.subject}`, span, () => dispatch(command)) };
  } catch (error) {
    if (error instanceof UnavailableError || error instanceof ConcurrencyConflictError) throw error;
    const code = error instanceof ConvergeError ? error.code : 'INTERNAL_SERVER_ERROR';
    return { outcome: 'dead', code, reason: `${code}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function parseJson(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    throw new ValidationError([{ path: [], message: 'is not JSON' }]);
  }
}

function tenantOf(body: unknown): string | undefined {
  const tenant = (body as { tenant?: unknown } | null)?.tenant;
  return typeof tenant === 'string' && tenant !== '' ? tenant : undefined;
}

/** The commandId of what a message with this `key` (a payment id) asks for: the same on every delivery. */
export function inboundCommandId(subject: string, key: string): string {
  const digest = createHash('sha256').update(`${subject} ${key}`).digest('base64url');
  return `${INTERNAL_COMMAND_ID_PREFIX}${subject}:${digest.slice(0, 32)}`;
}
