// The names a new domain's files use, derived from its folder name (`invoices`) and its aggregate's
// (`Invoice`, by default the folder's name without its plural s).
export type DomainNames = {
  /** The folder under src/ and the GraphQL face's export: `invoices`, `order-notes`. */
  folder: string;
  /** camelCase of the folder: `invoices`, `orderNotes` (the module's and face's variables). */
  camel: string;
  /** The read model's table and projection: `invoices`, `order_notes`. */
  snake: string;
  /** The aggregate: `Invoice`, `OrderNote`. */
  Aggregate: string;
  /** The aggregate in camelCase: `invoice`, `orderNote`. */
  aggregate: string;
  /** The aggregate in kebab-case (file names): `invoice`, `order-note`. */
  aggregateFile: string;
  /** The aggregate in SCREAMING_SNAKE: `INVOICE`, `ORDER_NOTE`. */
  AGGREGATE: string;
};

const FOLDER = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PASCAL = /^[A-Z][a-zA-Z0-9]*$/;

const pascal = (kebab: string) => kebab.replace(/(^|-)([a-z0-9])/g, (_m, _dash, c: string) => c.toUpperCase());
const singular = (word: string) => (word.length > 3 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);

export class NameError extends Error {}

export function domainNames(folder: string, aggregate?: string): DomainNames {
  if (!FOLDER.test(folder))
    throw new NameError(`the domain's name must be lower-case words joined by -, such as invoices; got ${JSON.stringify(folder)}`);
  const Aggregate = aggregate ?? pascal(singular(folder));
  if (!PASCAL.test(Aggregate))
    throw new NameError(`the aggregate's name must be PascalCase, such as Invoice; got ${JSON.stringify(Aggregate)}`);
  const camel = pascal(folder).replace(/^./, (c) => c.toLowerCase());
  const aggregateFile = Aggregate.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return {
    folder,
    camel,
    snake: folder.replace(/-/g, '_'),
    Aggregate,
    aggregate: Aggregate.replace(/^./, (c) => c.toLowerCase()),
    aggregateFile,
    AGGREGATE: aggregateFile.replace(/-/g, '_').toUpperCase(),
  };
}
