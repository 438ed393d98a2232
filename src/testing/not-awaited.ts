// A specification's `then` is a method, so its object looks like a promise: `await spec.given().when()`
// (without `.then(...)`) would call it with the promise's resolve and reject. Refused at once, with a
// message, rather than hanging the test.
export function notAwaited(extra: readonly unknown[]): void {
  if (extra.length > 0) throw new Error('call .then(expected) on what when() returns; do not await it without .then');
}
