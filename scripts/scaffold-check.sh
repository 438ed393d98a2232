#!/usr/bin/env bash
# CI: `converge new domain` into a scratch copy of this checkout, then the new domain's specs, the schema
# test, the type check, the linter and the layer rules there, so that the scaffold can never rot.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$root"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$scratch"
ln -s "$root/node_modules" "$scratch/node_modules"
cd "$scratch"
node --import tsx src/cli.ts new domain invoices
npx tsc --noEmit
npx biome check src
npx depcruise src --config .dependency-cruiser.cjs
npx vitest run src/invoices test/unit/schema.unit.test.ts test/unit/modules.unit.test.ts
