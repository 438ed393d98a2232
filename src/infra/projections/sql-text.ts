// Names and literals written into statement texts that the projection storage builds.

const IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;

/** A quoted identifier; only plain lower-case names are taken, so that a typo fails loudly. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`${JSON.stringify(name)} is not a plain lower-case SQL name`);
  return `"${name}"`;
}

/** An identifier quoted whatever it holds (schema names made from projection names). */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** A list of string literals for IN (…); `null` when empty, which matches nothing. */
export const sqlList = (values: readonly string[]) => (values.length > 0 ? values.map(sqlString).join(', ') : 'null');
