#!/usr/bin/env bash
# The frontend's tests: a clean install from package-lock.json, the Jest and
# React Testing Library tests, and the TypeScript type check.
set -euo pipefail
cd "$(dirname "$0")/.."

# The lock file must resolve from the npm registry alone (no GitHub tarballs,
# which cannot be fetched here, and no other hosts).
if grep -n 'github' package-lock.json; then
  echo "package-lock.json mentions GitHub (see above): dependencies must come from the npm registry" >&2
  exit 1
fi

npm ci --no-audit --no-fund
npm test -- --ci
npm run typecheck
