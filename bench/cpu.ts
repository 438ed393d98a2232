// CPU time, from Node and from /proc (a local server only), in ms: what a bench reports per operation,
// since it moves far less with the machine's other load than throughput or latency.
import { readdirSync, readFileSync } from 'node:fs';

export const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/** CPU time so far of process `pid` (user and system), in ms; null when it cannot be read. */
export function processCpuMs(pid: number | string): number | null {
  try {
    // Fields after the parenthesised command name: state is the 3rd field, utime the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // USER_HZ is 100 on every Linux this runs on.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * CPU time so far of the PostgreSQL backends serving `database` (from /proc, so a local server only;
 * null elsewhere), in ms. Shared processes (WAL writer, checkpointer) are left out, and so are backends
 * of other databases: other sessions on the machine do not count. A backend that exits between two
 * readings takes its time with it; the server's pool keeps its connections, so that is rare.
 */
export function databaseCpuMs(database: string): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const tag = ` ${database} `;
  let total = 0;
  let found = false;
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!cmdline.startsWith('postgres: ') || !cmdline.includes(tag)) continue;
    const ms = processCpuMs(pid);
    if (ms === null) continue;
    total += ms;
    found = true;
  }
  return found ? total : null;
}
