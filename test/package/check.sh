#!/usr/bin/env bash
# The packages as published, installed the way the README says.
#
# 1. Build and pack both packages: the library (publishConfig points its exports at build/) and the
#    CLI (its prepack builds dist/redis-streams.cjs, one bundled file).
# 2. In an empty project, run the README's own install lines (every `pnpm add` line of its
#    "## Install" section), with the package names replaced by the tarballs. pnpm must report no
#    unmet peer dependency: the line installs a working set.
# 3. Run, with plain Node (no tsx, no TypeScript): a producer and a worker (program.js, on the
#    in-memory backend), and `redis-streams --help` from node_modules/.bin.
# 4. Type-check program-types.ts (a user-owned ioredis client handed to the library) against what
#    was installed.
# Fails if a tarball misses a file, an export does not resolve, or the install line is wrong.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pnpm --filter effect-redis-streams build >/dev/null
(cd "$root/packages/redis-streams" && pnpm pack --pack-destination "$work" >/dev/null)
(cd "$root/packages/cli" && pnpm pack --pack-destination "$work" >/dev/null)
lib="$(ls "$work"/effect-redis-streams-0*.tgz)"
cli="$(ls "$work"/effect-redis-streams-cli-*.tgz)"
# (listings go to files: `tar | grep -q` fails under pipefail when grep stops reading early)
tar tzf "$lib" >"$work/lib.files"
tar tzf "$cli" >"$work/cli.files"
if grep -q '\.tsbuildinfo$' "$work/lib.files"; then
  echo "the library's tarball holds a .tsbuildinfo" >&2
  exit 1
fi
if ! grep -qx 'package/dist/redis-streams.cjs' "$work/cli.files"; then
  echo "the CLI's tarball has no dist/redis-streams.cjs" >&2
  exit 1
fi

# the README's install lines: `pnpm add ...` in the fenced blocks of "## Install"
mapfile -t lines < <(awk '
  /^## / { inside = ($0 == "## Install") }
  inside && /^```/ { fence = !fence; next }
  inside && fence && /^pnpm add / { sub(/[[:space:]]+#.*$/, ""); print }
' "$root/README.md")
if [ "${#lines[@]}" -eq 0 ]; then
  echo "README.md: no \`pnpm add\` line in the ## Install section" >&2
  exit 1
fi

mkdir "$work/app"
cd "$work/app"
echo '{ "name": "app", "type": "module", "private": true }' >package.json
for line in "${lines[@]}"; do
  # the package names become the tarballs (whole words only: the CLI's name contains the library's)
  cmd="$(sed -E "s#(^|[[:space:]])effect-redis-streams-cli([[:space:]]|$)#\\1$cli\\2#g; s#(^|[[:space:]])effect-redis-streams([[:space:]]|$)#\\1$lib\\2#g" <<<"$line")"
  echo "--- $line"
  out="$(eval "$cmd" 2>&1)" || { echo "$out" >&2; exit 1; }
  if grep -qiE 'unmet peer|missing peer|✕' <<<"$out"; then
    echo "$out" >&2
    echo "the README's install line leaves a peer dependency unmet" >&2
    exit 1
  fi
done
node -e 'const p = require("./package.json"); for (const k of ["dependencies", "devDependencies"]) for (const [n, v] of Object.entries(p[k] ?? {})) console.log(`    ${n} ${v.startsWith("file:") ? "(tarball)" : v}`)'
echo "    ioredis installed: $(node -p 'require("ioredis/package.json").version')"

cp "$root/test/package/program.js" "$root/test/package/program-types.ts" .
node program.js
help="$(./node_modules/.bin/redis-streams --help)"
grep -q "redis-streams" <<<"$help" || { echo "redis-streams --help printed: $help" >&2; exit 1; }
echo "redis-streams --help: $(wc -l <<<"$help") lines"

# the types, as an application compiles them
cat >tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "target": "ES2022",
    "noEmit": true,
    "skipLibCheck": true,
    "types": ["node"],
    "typeRoots": ["$root/node_modules/@types"]
  },
  "files": ["program-types.ts"]
}
JSON
sed -i "s#\$root#$root#" tsconfig.json
"$root/node_modules/.bin/tsc" -p tsconfig.json
echo "program-types.ts type-checks against the installed packages"
