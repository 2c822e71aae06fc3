/**
 * A small re-implementation of python-tabulate's `tablefmt="grid"`, the
 * seed's table style:
 *
 * - `+---+` rules above, between and below rows, `+===+` under the header;
 * - one space of padding on each side of a cell;
 * - a column is as wide as its widest cell, and at least its header plus 2
 *   (tabulate's MIN_PADDING);
 * - numeric columns (every cell a number, at least one row) are right-aligned,
 *   header included; all other columns are left-aligned;
 * - no trailing newline.
 *
 * Cells are printed as given: text is never quoted, never `b'...'`. Control
 * characters are escaped so that a name cannot break the grid.
 *
 * @internal
 */

/** a cell: text or a number */
export type Cell = string | number

const CONTROL = /[\u0000-\u001f\u007f]/g

const cellText = (cell: Cell): string =>
  typeof cell === "number"
    ? String(cell)
    : cell.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

/** width in code points (tabulate without wcwidth counts code points) */
const width = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

const pad = (s: string, w: number, right: boolean): string => {
  const fill = " ".repeat(Math.max(0, w - width(s)))
  return right ? fill + s : s + fill
}

/** render a grid table */
export const grid = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string => {
  const columns = headers.length
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((row) => typeof row[c] === "number"))
  const texts = rows.map((row) => headers.map((_, c) => cellText(row[c] ?? "")))
  const widths = headers.map((h, c) => Math.max(width(h) + 2, ...texts.map((row) => width(row[c]!))))
  const rule = (ch: string) => "+" + widths.map((w) => ch.repeat(w + 2)).join("+") + "+"
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((cell, c) => pad(cell, widths[c]!, numeric[c]!)).join(" | ") + " |"
  const out: Array<string> = [rule("-"), line(headers.slice(0, columns)), rule("=")]
  texts.forEach((row, i) => {
    out.push(line(row))
    if (i < texts.length - 1) out.push(rule("-"))
  })
  out.push(rule("-"))
  return out.join("\n")
}
