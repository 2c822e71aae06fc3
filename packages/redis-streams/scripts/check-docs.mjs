#!/usr/bin/env node
// Run by `pnpm run docs` after docgen: every generated module page must start with valid front
// matter (a `---` line, `title`, `nav_order` and `parent` keys, a closing `---`), as the docs site
// reads it. docgen 0.5.2 formats the pages with prettier; prettier 3.9+ no longer sees the front
// matter (docgen writes a blank line before it) and turns its first `---` into `***` (hence the
// pnpm override of prettier in the root package.json). Also checks that docgen type-checked as many
// `@example` blocks as the public modules hold. Exits 1 with one line per problem.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const pkg = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const modules = Path.join(pkg, "docs/modules")
const problems = []

/** the problems of one page's front matter */
export const frontMatterProblems = (text, required = ["title", "nav_order", "parent"]) => {
  const lines = text.split("\n")
  if (lines[0] !== "---") return [`starts with ${JSON.stringify(lines[0])} instead of "---"`]
  const end = lines.indexOf("---", 1)
  if (end === -1) return ["the front matter is not closed by a \"---\" line"]
  const out = []
  const keys = new Map()
  for (const line of lines.slice(1, end)) {
    const m = /^([a-z_]+): (.+)$/.exec(line)
    if (m === null) out.push(`front matter line ${JSON.stringify(line)} is not "key: value"`)
    else keys.set(m[1], m[2])
  }
  for (const key of required) if (!keys.has(key)) out.push(`no ${key} in the front matter`)
  if (keys.has("nav_order") && !/^\d+$/.test(keys.get("nav_order"))) out.push("nav_order is not a number")
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pages = Fs.existsSync(modules) ? Fs.readdirSync(modules).filter((f) => f.endsWith(".md")) : []
  if (pages.length === 0) problems.push(`no module pages in ${modules}`)
  for (const page of pages) {
    // index.md is the section's own page: it has no parent
    const required = page === "index.md" ? ["title", "nav_order"] : ["title", "nav_order", "parent"]
    for (const p of frontMatterProblems(Fs.readFileSync(Path.join(modules, page), "utf8"), required)) {
      problems.push(`docs/modules/${page}: ${p}`)
    }
  }
  // every @example of the public modules is on a page (docgen type-checks each one it prints)
  const src = Path.join(pkg, "src")
  const examples = Fs.readdirSync(src)
    .filter((f) => f.endsWith(".ts"))
    .reduce((n, f) => n + (Fs.readFileSync(Path.join(src, f), "utf8").match(/^\s*\*\s*@example\b/gm) ?? []).length, 0)
  const printed = pages.reduce(
    (n, f) => n + (Fs.readFileSync(Path.join(modules, f), "utf8").match(/^\*\*Example\*\*$/gm) ?? []).length,
    0
  )
  if (printed !== examples) problems.push(`${examples} @example blocks in src/, ${printed} on the pages`)
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`check-docs: ${p}\n`)
    process.exit(1)
  }
  process.stdout.write(`check-docs: ${pages.length} module pages with valid front matter, ${printed} examples\n`)
}
