/**
 * A map from stream ids to values, ordered by id: the pending entries lists
 * (PEL) of groups and consumers. Slots live in one array sorted by id;
 * lookups are binary searches, appending a greater id (what XREADGROUP does)
 * is O(1). Removal only marks the slot dead; dead slots are compacted away in
 * amortized O(1) by `seek`, `first` and `insert` (never by `remove` or
 * `kill`, so indexes stay valid while a caller scans and removes).
 *
 * @internal
 */
import { compare, type Id } from "./id.js"

export interface Slot<V> {
  readonly id: Id
  /** the id's canonical text */
  readonly key: string
  readonly value: V
  alive: boolean
}

export class IdIndex<V> {
  /** ordered slots, dead ones included until compaction */
  slots: Array<Slot<V>> = []
  private live = 0
  private dead = 0

  get size(): number {
    return this.live
  }

  /** the live slot with this id */
  find(id: Id): Slot<V> | undefined {
    const slots = this.slots
    for (let i = this.lowerBound(id); i < slots.length; i++) {
      const slot = slots[i]!
      if (compare(slot.id, id) !== 0) return undefined
      if (slot.alive) return slot
    }
    return undefined
  }

  get(id: Id): V | undefined {
    return this.find(id)?.value
  }

  /** insert; false (and nothing changes) when the id is present */
  insert(id: Id, key: string, value: V): boolean {
    const slot: Slot<V> = { id, key, value, alive: true }
    this.compactIfNeeded()
    const slots = this.slots
    const n = slots.length
    if (n === 0 || compare(slots[n - 1]!.id, id) < 0) {
      slots.push(slot)
    } else {
      if (this.find(id) !== undefined) return false
      slots.splice(this.lowerBound(id), 0, slot)
    }
    this.live++
    return true
  }

  /** remove; the removed value or undefined */
  remove(id: Id): V | undefined {
    const slot = this.find(id)
    if (slot === undefined) return undefined
    this.kill(slot)
    return slot.value
  }

  /** remove a live slot found by a scan */
  kill(slot: Slot<V>): void {
    if (!slot.alive) return
    slot.alive = false
    this.live--
    this.dead++
  }

  /** compact, then the index of the first slot with an id >= `id` */
  seek(id: Id): number {
    this.compactIfNeeded()
    return this.lowerBound(id)
  }

  first(): Slot<V> | undefined {
    this.compactIfNeeded()
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) if (slots[i]!.alive) return slots[i]
    return undefined
  }

  last(): Slot<V> | undefined {
    const slots = this.slots
    for (let i = slots.length - 1; i >= 0; i--) if (slots[i]!.alive) return slots[i]
    return undefined
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
