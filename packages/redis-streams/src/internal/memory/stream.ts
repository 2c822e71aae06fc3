/**
 * The data of one stream key, laid out as Redis 7.0 lays it out (t_stream.c):
 * entries live in nodes (Redis: listpacks in a radix tree) of at most 100
 * entries (live + deleted) or 4096 bytes; a deleted entry stays in its node
 * as a tombstone until the whole node goes; a node goes when its last live
 * entry is deleted or when trimming removes it whole. Approximate trimming
 * removes whole nodes only, so modelling the node boundaries is what makes
 * `MAXLEN ~` / `MINID ~` remove exactly what Redis removes.
 *
 * Lookups are binary searches over nodes, then within a node: O(log n).
 *
 * @internal
 */
import { compare, diffInt64, type Id, incrU64, type U64, ZERO } from "./id.js"
import { IdIndex } from "./idIndex.js"
import {
  byteLength,
  intSize,
  LP_EMPTY_BYTES,
  NODE_MAX_BYTES,
  NODE_MAX_ENTRIES,
  stringSize
} from "./listpack.js"

/** an entry; its id parts and text are fixed, `deleted` marks a tombstone */
export interface Entry extends Id {
  readonly id: string
  fields: ReadonlyArray<string>
  deleted: boolean
}

/** a node (a listpack): entries in id order, the first one is the master entry */
export interface Node {
  readonly entries: Array<Entry>
  readonly masterFields: ReadonlyArray<string>
  /** live entries */
  count: number
  /** tombstones */
  deletedCount: number
  /** lpBytes() of the listpack Redis would hold */
  bytes: number
}

/** a pending entry (streamNACK) */
export interface Nack {
  consumer: Consumer
  deliveryTime: number
  deliveryCount: number
}

export interface Consumer {
  readonly name: string
  seenTime: number
  readonly pel: IdIndex<Nack>
}

/** SCG_INVALID_ENTRIES_READ */
export const INVALID_ENTRIES_READ = -1

export interface Group {
  readonly name: string
  lastId: Id
  /** -1 when unknown */
  entriesRead: number
  readonly pel: IdIndex<Nack>
  readonly consumers: Map<string, Consumer>
}

const EMPTY_FIELDS: ReadonlyArray<string> = []

export class StreamValue {
  readonly type = "stream" as const
  nodes: Array<Node> = []
  length = 0
  lastId: Id = ZERO
  /** recorded-first-entry-id */
  firstId: Id = ZERO
  maxDeletedId: Id = ZERO
  entriesAdded = 0
  readonly groups = new Map<string, Group>()

  // ---------------------------------------------------------------------------
  // appending
  // ---------------------------------------------------------------------------

  /** streamNextID */
  nextId(now: number): Id {
    const last = this.lastId
    if (now > last.ms) return { ms: now, seq: 0 }
    return { ms: last.ms, seq: incrU64(last.seq) }
  }

  /**
   * streamAppendItem once the id is known to be greater than the last id:
   * appends to the tail node or opens a new node as Redis does.
   */
  append(ms: U64, seq: U64, fields: ReadonlyArray<string>): Entry {
    const entry: Entry = { ms, seq, id: `${ms}-${seq}`, fields, deleted: false }
    const nfields = fields.length >>> 1
    // raw length of all strings, and listpack sizes of the names and of the values
    let totelelen = 0
    let namesSize = 0
    let valuesSize = 0
    for (let i = 0; i < nfields; i++) {
      const name = fields[i * 2]!
      const value = fields[i * 2 + 1]!
      const nl = byteLength(name)
      const vl = byteLength(value)
      totelelen += nl + vl
      namesSize += stringSize(name, nl)
      valuesSize += stringSize(value, vl)
    }
    const nodes = this.nodes
    let tail: Node | undefined = nodes.length > 0 ? nodes[nodes.length - 1] : undefined
    if (tail !== undefined) {
      if (tail.bytes + totelelen >= NODE_MAX_BYTES) tail = undefined
      else if (tail.count + tail.deletedCount >= NODE_MAX_ENTRIES) tail = undefined
    }
    if (tail === undefined) {
      const masterFields = new Array<string>(nfields)
      for (let i = 0; i < nfields; i++) masterFields[i] = fields[i * 2]!
      // master entry (count, deleted, num-fields, names, 0), then the entry with
      // SAMEFIELDS (flags, zero ms and seq deltas, values, lp-count)
      const bytes = LP_EMPTY_BYTES + 2 + 2 + intSize(nfields) + namesSize + 2 +
        2 + 2 + 2 + valuesSize + intSize(nfields + 3)
      nodes.push({ entries: [entry], masterFields, count: 1, deletedCount: 0, bytes })
    } else {
      const master = tail.entries[0]!
      const mf = tail.masterFields
      let same = mf.length === nfields
      if (same) {
        for (let i = 0; i < nfields; i++) {
          if (mf[i] !== fields[i * 2]) {
            same = false
            break
          }
        }
      }
      let bytes = 2 + intSize(diffInt64(ms, master.ms)) + intSize(diffInt64(seq, master.seq)) + valuesSize
      bytes += same ? intSize(nfields + 3) : intSize(nfields) + namesSize + intSize(nfields * 2 + 4)
      tail.entries.push(entry)
      tail.count++
      tail.bytes += bytes
    }
    this.length++
    this.entriesAdded++
    this.lastId = entry
    if (this.length === 1) this.firstId = entry
    return entry
  }

  // ---------------------------------------------------------------------------
  // lookups
  // ---------------------------------------------------------------------------

  /** index of the last node whose master id is <= id, or -1 */
  nodeIndexFor(id: Id): number {
    const nodes = this.nodes
    let lo = 0
    let hi = nodes.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(nodes[mid]!.entries[0]!, id) <= 0) lo = mid + 1
      else hi = mid
    }
    return lo - 1
  }

  /** the live entry with this id */
  get(id: Id): Entry | undefined {
    const ni = this.nodeIndexFor(id)
    if (ni < 0) return undefined
    const entries = this.nodes[ni]!.entries
    const i = lowerBound(entries, id)
    if (i < entries.length) {
      const e = entries[i]!
      if (!e.deleted && compare(e, id) === 0) return e
    }
    return undefined
  }

  /** streamEntryExists */
  has(id: Id): boolean {
    return this.get(id) !== undefined
  }

  /** live entries with start <= id <= end, in order, at most `count` (0: all) */
  range(start: Id, end: Id, count: number): Array<Entry> {
    const out: Array<Entry> = []
    if (this.length === 0 || compare(start, end) > 0) return out
    const nodes = this.nodes
    let ni = this.nodeIndexFor(start)
    let ei = 0
    if (ni < 0) ni = 0
    else ei = lowerBound(nodes[ni]!.entries, start)
    for (; ni < nodes.length; ni++, ei = 0) {
      const entries = nodes[ni]!.entries
      for (; ei < entries.length; ei++) {
        const e = entries[ei]!
        if (compare(e, end) > 0) return out
        if (e.deleted) continue
        out.push(e)
        if (count > 0 && out.length >= count) return out
      }
    }
    return out
  }

  /** live entries with start <= id <= end, from the highest, at most `count` (0: all) */
  revRange(start: Id, end: Id, count: number): Array<Entry> {
    const out: Array<Entry> = []
    if (this.length === 0 || compare(start, end) > 0) return out
    const nodes = this.nodes
    let ni = this.nodeIndexFor(end)
    if (ni < 0) return out
    let ei = upperBound(nodes[ni]!.entries, end) - 1
    for (; ni >= 0; ni--, ei = ni >= 0 ? nodes[ni]!.entries.length - 1 : 0) {
      const entries = nodes[ni]!.entries
      for (; ei >= 0; ei--) {
        const e = entries[ei]!
        if (compare(e, start) < 0) return out
        if (e.deleted) continue
        out.push(e)
        if (count > 0 && out.length >= count) return out
      }
    }
    return out
  }

  /** the first live entry */
  firstEntry(): Entry | undefined {
    const nodes = this.nodes
    for (let ni = 0; ni < nodes.length; ni++) {
      const entries = nodes[ni]!.entries
      for (let i = 0; i < entries.length; i++) if (!entries[i]!.deleted) return entries[i]
    }
    return undefined
  }

  /** the last live entry */
  lastEntry(): Entry | undefined {
    const nodes = this.nodes
    for (let ni = nodes.length - 1; ni >= 0; ni--) {
      const entries = nodes[ni]!.entries
      for (let i = entries.length - 1; i >= 0; i--) if (!entries[i]!.deleted) return entries[i]
    }
    return undefined
  }

  // ---------------------------------------------------------------------------
  // deleting and trimming
  // ---------------------------------------------------------------------------

  /** streamDeleteItem (the caller maintains first / max-deleted ids as XDEL does) */
  deleteEntry(id: Id): boolean {
    const ni = this.nodeIndexFor(id)
    if (ni < 0) return false
    const node = this.nodes[ni]!
    const entries = node.entries
    const i = lowerBound(entries, id)
    if (i >= entries.length) return false
    const e = entries[i]!
    if (e.deleted || compare(e, id) !== 0) return false
    this.length--
    if (node.count === 1) {
      // the node's last live entry: Redis frees the whole listpack
      tombstone(e)
      this.nodes.splice(ni, 1)
    } else {
      tombstone(e)
      node.count--
      node.deletedCount++
    }
    return true
  }

  /** streamTrim; returns how many entries were removed */
  trim(
    strategy: "maxlen" | "minid",
    maxlen: number,
    minid: Id,
    approx: boolean,
    limit: number
  ): number {
    const nodes = this.nodes
    let deleted = 0
    let removeNodes = 0
    let ni = 0
    for (; ni < nodes.length; ni++) {
      if (strategy === "maxlen" && this.length <= maxlen) break
      const node = nodes[ni]!
      const entries = node.count
      if (limit > 0 && deleted + entries > limit) break
      let removeNode: boolean
      if (strategy === "maxlen") {
        removeNode = this.length - entries >= maxlen
      } else {
        // the node's last entry, deleted or not
        removeNode = compare(node.entries[node.entries.length - 1]!, minid) < 0
      }
      if (removeNode) {
        removeNodes++
        this.length -= entries
        deleted += entries
        continue
      }
      if (approx) break
      // mark entries of this node deleted, from its start
      let fromNode = 0
      const list = node.entries
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!
        const stop = strategy === "maxlen" ? this.length <= maxlen : compare(e, minid) >= 0
        if (stop) break
        if (!e.deleted) {
          tombstone(e)
          fromNode++
          this.length--
        }
      }
      deleted += fromNode
      node.count -= fromNode
      node.deletedCount += fromNode
      break
    }
    if (removeNodes > 0) nodes.splice(0, removeNodes)
    if (this.length === 0) {
      this.firstId = ZERO
    } else {
      const first = this.firstEntry()
      this.firstId = first === undefined ? ZERO : first
    }
    return deleted
  }
}

const tombstone = (e: Entry): void => {
  if (!e.deleted) {
    e.deleted = true
    e.fields = EMPTY_FIELDS
  }
}

/** index of the first entry with an id >= id */
const lowerBound = (entries: ReadonlyArray<Entry>, id: Id): number => {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compare(entries[mid]!, id) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** index of the first entry with an id > id */
const upperBound = (entries: ReadonlyArray<Entry>, id: Id): number => {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compare(entries[mid]!, id) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo
}
