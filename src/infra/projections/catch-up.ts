// Which projections are catching up (their live steps read full batches), and fresh statistics for their
// tables once they have: the tables may have grown from empty within seconds, and ANALYZE also drops
// plans cached while they were small (docs/decisions/lookup-plans.md).
import { sql } from 'drizzle-orm';
import type { Executor } from '../../core/sql.ts';
import { quoteIdent } from './sql-text.ts';

/** Events a catch-up must have read before the projection's tables are analysed at its end. */
const ANALYZE_AFTER_EVENTS = 10_000;

export class CatchUps {
  /** Projections whose last live step read a full batch, and how many events such steps read in a row. */
  private readonly reading = new Map<string, number>();
  /** Projections whose tables are being analysed. */
  private readonly analysing = new Set<string>();

  constructor(
    private readonly database: Executor,
    private readonly tablesOf: (name: string) => readonly string[],
  ) {}

  /** Whether the projection's last live step read a full batch. */
  catchingUp(name: string): boolean {
    return this.reading.has(name);
  }

  /** A live step read `read` events of the `limit` it asked for. */
  read(name: string, read: number, limit: number): void {
    const sofar = this.reading.get(name);
    if (read >= limit) {
      this.reading.set(name, (sofar ?? 0) + read);
      return;
    }
    if (sofar === undefined) return;
    this.reading.delete(name);
    // After a real catch-up only (a busy live projection alternates full and short batches), beside the
    // steps (it takes no lock that writes wait for); if it fails, autovacuum analyses soon anyway.
    if (sofar >= ANALYZE_AFTER_EVENTS) this.analyze(name).catch(() => {});
  }

  /** ANALYZE the projection's tables (at most one at a time per projection). */
  async analyze(name: string): Promise<void> {
    const tables = this.tablesOf(name);
    if (tables.length === 0 || this.analysing.has(name)) return;
    this.analysing.add(name);
    try {
      await this.database.rows(sql.raw(`analyze ${tables.map((t) => `public.${quoteIdent(t)}`).join(', ')}`));
    } finally {
      this.analysing.delete(name);
    }
  }
}
