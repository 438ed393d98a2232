// The scaffold's names and its registration in src/modules.ts (the whole scaffold runs in CI, in a
// scratch copy: scripts/scaffold-check.sh).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { domainNames, NameError } from '../../src/scaffold/names.ts';
import { register } from '../../src/scaffold/new-domain.ts';

describe('converge new domain', () => {
  it('derives every name from the folder, the aggregate without its plural s unless given', () => {
    expect(domainNames('invoices')).toEqual({
      folder: 'invoices',
      camel: 'invoices',
      snake: 'invoices',
      Aggregate: 'Invoice',
      aggregate: 'invoice',
      aggregateFile: 'invoice',
      AGGREGATE: 'INVOICE',
    });
    expect(domainNames('order-notes')).toMatchObject({
      camel: 'orderNotes',
      snake: 'order_notes',
      Aggregate: 'OrderNote',
      aggregateFile: 'order-note',
      AGGREGATE: 'ORDER_NOTE',
    });
    expect(domainNames('billing', 'Bill')).toMatchObject({ Aggregate: 'Bill', aggregate: 'bill' });
    expect(domainNames('address')).toMatchObject({ Aggregate: 'Address' });
  });

  it.each(['Invoices', 'in voices', '9lives', 'a--b', ''])('refuses %j as a name, saying what a name looks like', (name) => {
    expect(() => domainNames(name)).toThrow(NameError);
    expect(() => domainNames(name)).toThrow(/lower-case words joined by -/);
  });

  it('registers the domain with its import and its entry in MODULES', () => {
    const modules = readFileSync(new URL('../../src/modules.ts', import.meta.url), 'utf8');
    const registered = register(modules, domainNames('invoices'));
    expect(registered).toContain("import { invoices } from './invoices/index.ts';\n");
    expect(registered).toMatch(/export const MODULES = \[[^\]]*, invoices\]/);
    expect(registered.split('\n').length).toBe(modules.split('\n').length + 1);
  });
});
