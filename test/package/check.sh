#!/usr/bin/env bash
# The package as published: build it, pack it (publishConfig points the exports at build/), install
# the tarball with npm into an empty project and run a program on the in-memory backend with plain
# Node (no tsx, no TypeScript). Fails if the tarball misses a file or an export does not resolve.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pnpm --filter effect-redis-streams build >/dev/null
(cd "$root/packages/redis-streams" && pnpm pack --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/effect-redis-streams-*.tgz)"
if tar tzf "$tarball" | grep -q '\.tsbuildinfo$'; then
  echo "the tarball holds a .tsbuildinfo" >&2
  exit 1
fi
effect_version="$(node -p "require('$root/packages/redis-streams/package.json').devDependencies.effect")"
mkdir "$work/app"
cd "$work/app"
echo '{ "type": "module", "private": true }' >package.json
npm i --no-audit --no-fund --loglevel=error "$tarball" "effect@$effect_version" >/dev/null
cp "$root/test/package/program.js" .
node program.js
