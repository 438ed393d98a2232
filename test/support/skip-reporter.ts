// A vitest reporter beside the default one: at the end of a run, every test skipped with a reason
// (test/support/skip.ts) as `file › test: reason`, so that `npm test` says what it did not run and why.
import { relative } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export default class SkipReasonsReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        const result = test.result();
        // Tests left out by a name filter (-t) or .only carry no note: they are not skips of this kind.
        if (result.state !== 'skipped' || !result.note) continue;
        const name = test.fullName.replace(/ > skipped: .*$/, '');
        lines.push(`  ↓ ${relative(this.vitest!.config.root, module.moduleId)} › ${name}: ${result.note}`);
      }
    }
    if (lines.length > 0) this.vitest!.logger.log(`\n Skipped (${lines.length}), and why:\n${lines.join('\n')}\n`);
  }
}
