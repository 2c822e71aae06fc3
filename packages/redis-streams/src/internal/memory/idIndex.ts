/**
 * A map from stream ids to values, ordered by id: the pending entries lists
 * (PEL) of groups and consumers. Lookups by id are O(1) (a `Map` keyed by the
 * canonical id text), ordered scans start with a binary search. Removal only
 * marks the slot dead; dead slots are compacted away in amortized O(1) by
 * `seek` and `insert` (never during a scan that only removes).
 *
 * @internal
 */
import { compare, type Id } from "./id.js"

export interface Slot<V> {
  readonly id: Id
  readonly key: string
  readonly value: V
  alive: boolean
}

export class IdIndex<V> {
  /** ordered slots, dead ones included until compaction */
  slots: Array<Slot<V>> = []
  private readonly map = new Map<string, Slot<V>>()
  private dead = 0

  get size(): number {
    return this.map.size
  }

  get(key: string): V | undefined {
    const slot = this.map.get(key)
    return slot === undefined ? undefined : slot.value
  }

  has(key: string): boolean {
    return this.map.has(key)
  }

  /** insert; false (and nothing changes) when the key is present */
  insert(id: Id, key: string, value: V): boolean {
    if (this.map.has(key)) return false
    this.compactIfNeeded()
    const slot: Slot<V> = { id, key, value, alive: true }
    const slots = this.slots
    const n = slots.length
    if (n === 0 || compare(slots[n - 1]!.id, id) < 0) {
      slots.push(slot)
    } else {
      slots.splice(this.lowerBound(id), 0, slot)
    }
    this.map.set(key, slot)
    return true
  }

  /** remove; the removed value or undefined */
  remove(key: string): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) return undefined
    slot.alive = false
    this.map.delete(key)
    this.dead++
    return slot.value
  }

  /** compact, then the index of the first slot with an id >= `id` */
  seek(id: Id): number {
    this.compactIfNeeded()
    return this.lowerBound(id)
  }

  first(): Slot<V> | undefined {
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) if (slots[i]!.alive) return slots[i]
    return undefined
  }

  last(): Slot<V> | undefined {
    const slots = this.slots
    for (let i = slots.length - 1; i >= 0; i--) if (slots[i]!.alive) return slots[i]
    return undefined
  }

  /** the live values, in id order */
  values(): Array<V> {
    const out: Array<V> = []
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) if (slots[i]!.alive) out.push(slots[i]!.value)
    return out
  }

  private lowerBound(id: Id): number {
    const slots = this.slots
    let lo = 0
    let hi = slots.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(slots[mid]!.id, id) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private compactIfNeeded(): void {
    if (this.dead > 16 && this.dead * 2 > this.slots.length) {
      this.slots = this.slots.filter((s) => s.alive)
      this.dead = 0
    }
  }
}
