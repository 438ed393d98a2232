// PGlite is one process's database: a second process on the same directory would keep its own copy in
// memory and overwrite the other's writes. A lock file with our pid keeps it out (a stale one, whose
// process is gone, is taken over).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Thrown when another live process has the PGlite data directory open. */
export class DataDirectoryInUseError extends Error {}

/** Takes the directory's lock; returns the function that gives it back. */
export function lockDataDirectory(dir: string): () => void {
  const file = join(dir, 'converge.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirectoryInUseError(`PGLITE_DIR ${dir} is in use by process ${pid}; stop it or choose another PGLITE_DIR`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new DataDirectoryInUseError(`PGLITE_DIR ${dir} could not be locked`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
