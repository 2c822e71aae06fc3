/**
 * The fault hooks of `InMemoryStore` (`failNext`, `clearFaults`): the
 * registered faults, in registration order, and how an operation takes the
 * first one matching it.
 *
 * @internal
 */
import type { FaultOptions, Operation } from "../../InMemoryBackend.js"
import type { BackendError } from "../../StreamsError.js"

/** a registered fault */
export interface Fault {
  readonly predicate: (op: Operation) => boolean
  readonly error: BackendError
  readonly after: boolean
  times: number
}

/** the registered faults of one backend */
export class Faults {
  private readonly faults: Array<Fault> = []

  /** register a fault (`failNext`) */
  add(predicate: (op: Operation) => boolean, error: BackendError, options: FaultOptions | undefined): void {
    this.faults.push({
      predicate,
      error,
      after: options?.after === true,
      times: Math.max(1, Math.floor(options?.times ?? 1))
    })
  }

  /** remove every registered fault (`clearFaults`) */
  clear(): void {
    this.faults.length = 0
  }

  /**
   * The first registered fault matching the operation, used up once (and
   * removed when used up); `undefined` when none matches. With no fault
   * registered, the operation is not even built.
   */
  take(
    method: string,
    command: string,
    stream: string,
    group: string | undefined,
    args: ReadonlyArray<unknown>
  ): Fault | undefined {
    const faults = this.faults
    if (faults.length === 0) return undefined
    const op: Operation = { method, command, stream, group, args }
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i]!
      if (f.predicate(op)) {
        if (--f.times <= 0) faults.splice(i, 1)
        return f
      }
    }
    return undefined
  }
}
