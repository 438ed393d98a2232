// Every skip says why: tests that cannot run here go through test/support/skip.ts (a skipped test with
// the reason, listed at the end of `npm test`), never vitest's skipIf/runIf/.skip, which say nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HELPER = 'test/support/skip.ts';

function testFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

// `.skipIf(`, `.runIf(`, `it.skip(`, `describe.skip(`, `test.skip(`, and a context's skip() without a reason.
const SILENT_SKIP = /\.(skipIf|runIf)\(|\b(it|describe|test|suite)\.skip\(|\.skip\(\s*\)/;

describe('skips', () => {
  it('no test skips without a reason', () => {
    const offenders = [...testFiles('test'), ...testFiles('src').filter((f) => f.endsWith('.test.ts'))]
      .filter((file) => file !== HELPER)
      .flatMap((file) =>
        readFileSync(join(ROOT, file), 'utf8')
          .split('\n')
          .flatMap((line, i) => (SILENT_SKIP.test(line) && !line.trim().startsWith('//') ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });
});
