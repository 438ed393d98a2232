// A stand-in server process for multi-process tests: runs the projections against DATABASE_URL and
// prints a JSON line {"held": [...]} whenever the set of projections it runs changes.
import { createServices } from '../../src/services.ts';
import { openDatabase } from '../../src/infra/db/open-database.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const database = await openDatabase({ url, poolMax: 5 });
const services = createServices(database, {
  runProjections: true,
  consistencyTimeoutMs: 5000,
  lockRetryMs: Number(process.env.LOCK_RETRY_MS ?? 250),
  projectionPollMs: 500,
});
await services.start();
let last: string | undefined;
const report = () => {
  const held = services.host!.held().sort();
  if (held.join(',') !== last) {
    last = held.join(',');
    process.stdout.write(`${JSON.stringify({ held })}\n`);
  }
};
report();
const timer = setInterval(report, 25);
process.on('SIGTERM', async () => {
  clearInterval(timer);
  await services.stop();
  await database.close();
  process.exit(0);
});
