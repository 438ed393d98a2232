// Payments coming back: a payment service publishes payments.captured ({ paymentId, orderId, amount }),
// and the order is paid once per paymentId (MarkOrderPaid, its commandId derived from the paymentId, so
// that a redelivered message changes nothing). What cannot be applied goes to converge.dead.payments.
import { SYSTEM_CALLER } from '../core/caller.ts';
import { parseCommand } from '../core/command-input.ts';
import { inboundCommandId, type InboundMessages } from '../core/inbound.ts';
import type { MarkOrderPaid } from './commands/mark-order-paid.ts';
import type { OrderCommand } from './decider.ts';
import { orderAggregate } from './order-aggregate.ts';

export const PAYMENTS_CAPTURED = 'payments.captured';

export const paymentsCaptured: InboundMessages = {
  subject: PAYMENTS_CAPTURED,
  stream: { name: 'PAYMENTS', subjects: ['payments.>'] },
  durable: 'converge-payments-captured',
  deadLetterSubject: 'converge.dead.payments',
  command(body, context) {
    // With tenants, the order is the message's tenant's: the command acts in it (see core/tenant-scope.ts).
    const caller = context.tenant ? { ...SYSTEM_CALLER, tenant: context.tenant } : SYSTEM_CALLER;
    const command = parseCommand<OrderCommand, 'MarkOrderPaid'>(orderAggregate.inputs, 'MarkOrderPaid', body, { caller }, []);
    // Derived after validation: a message without a paymentId never reaches here.
    command.metadata.commandId = inboundCommandId(PAYMENTS_CAPTURED, (command as MarkOrderPaid).data.paymentId);
    return command;
  },
};
