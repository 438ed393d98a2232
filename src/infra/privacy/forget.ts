// Forgetting a subject: its data keys are deleted and a PersonalDataForgotten event appended in one
// transaction (so the event's position, the forget's consistency token, never precedes the deletion), and
// a notification in that transaction tells every process to drop its cached copies.
import type { EventSchemas } from '../../core/event-store.ts';
import { forgottenStreamId, PERSONAL_DATA_FORGOTTEN, PERSONAL_DATA_STREAM_TYPE } from '../../core/personal-data.ts';
import { positionFromDb, type Position } from '../../core/position.ts';
import type { Executor } from '../../core/sql.ts';
import { tenantOrDefault } from '../../core/tenancy.ts';
import { driverError } from '../db/errors.ts';
import { appendStatement } from '../event-store/append-statements.ts';

/** Payload: JSON [tenant, subject, keyIds]. */
export const FORGET_CHANNEL = 'converge_forget';

type Transactional = { transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> };

export async function forgetSubject(
  db: Transactional,
  schemas: EventSchemas,
  subject: string,
  now: Date,
): Promise<{ position: Position; keyIds: string[] }> {
  const tenant = tenantOrDefault();
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(async (tx) => {
        // The event first: an append must be the first write of its transaction (the event horizon's rule).
        const event = { type: PERSONAL_DATA_FORGOTTEN, data: { subject, forgottenAt: now.toISOString() } };
        const { text, params } = appendStatement(
          tenant,
          forgottenStreamId(subject),
          [event],
          { streamType: PERSONAL_DATA_STREAM_TYPE, expectedVersion: 'any' },
          schemas,
        );
        const [row] = await tx.query<{ tx: string; pos: string }>(text, params);
        const deleted = await tx.query<{ key_id: string }>('delete from data_keys where tenant_id = $1 and subject = $2 returning key_id', [
          tenant,
          subject,
        ]);
        const keyIds = deleted.map((r) => r.key_id);
        await tx.query('select pg_notify($1, $2)', [FORGET_CHANNEL, JSON.stringify([tenant, subject, keyIds])]);
        return { position: positionFromDb(row!.tx, row!.pos), keyIds };
      });
    } catch (error) {
      // Two forgets of one subject at once race for the next version of its stream: the loser tries again.
      if ((driverError(error) as { code?: string } | undefined)?.code !== '23505' || attempt >= 5) throw error;
    }
  }
}
