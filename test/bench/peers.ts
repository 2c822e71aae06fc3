/**
 * The peers of `pnpm bench`, measured in the same rounds as the library (see measure.ts):
 *
 * - BullMQ (a devDependency of the test package only): `Queue.addBulk` (chunks of 1,000 jobs of
 *   100 bytes) for produce, and a `Worker` with a no-op handler at concurrency 1 and 50 for
 *   consume (its jobs added with addBulk beforehand, `removeOnComplete: true`; the clock runs
 *   from `worker.run()` to the N-th `completed` event);
 * - `redis-benchmark` XADD with pipelining 16 (its default 50 clients), the server's own ceiling,
 *   when it is on PATH (skipped with a note otherwise).
 *
 * BullMQ runs `BENCH_PEER_MESSAGES` jobs (default BENCH_MESSAGES / 20, at least 1,000): a job
 * costs it several times what an entry costs the library, and its rate does not depend on the count.
 */
import { Queue, Worker } from "bullmq"
import { execFile, execFileSync } from "node:child_process"

const payload = "x".repeat(100)
const now = () => performance.now()

/** BullMQ's connection options for `url` (it opens its own ioredis clients) */
export const bullConnection = (url: string) => {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null }
}

/** add `n` jobs (data: `data(i)`) in chunks of 1,000; msgs/s */
export const bullAddBulk = async (
  queue: Queue,
  n: number,
  data: (i: number) => Record<string, unknown> = (i) => ({ i, payload })
): Promise<number> => {
  const t = now()
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
        name: "job",
        data: data(i + j),
        opts: { removeOnComplete: true }
      }))
    )
  }
  return n / ((now() - t) / 1000)
}

/** a queue of its own for one measurement, emptied and closed by `use`'s end */
export const withQueue = async <A>(url: string, name: string, use: (queue: Queue) => Promise<A>): Promise<A> => {
  const queue = new Queue(name, { connection: bullConnection(url) })
  try {
    return await use(queue)
  } finally {
    await queue.obliterate({ force: true })
    await queue.close()
  }
}

/** BullMQ produce: `n` jobs with addBulk into a new queue; msgs/s */
export const bullProduce = (url: string, name: string, n: number): Promise<number> =>
  withQueue(url, name, (queue) => bullAddBulk(queue, n))

/**
 * Run a BullMQ Worker with `processor` at `concurrency` over the `n` jobs already in `queue`, from
 * `run()` to the n-th `completed` event; returns the wall time in ms.
 */
export const bullWork = async (
  url: string,
  queue: Queue,
  n: number,
  concurrency: number,
  processor: (data: { readonly i: number }) => Promise<void>
): Promise<number> => {
  const worker = new Worker(queue.name, (job) => processor(job.data), {
    connection: bullConnection(url),
    concurrency,
    autorun: false
  })
  try {
    await worker.waitUntilReady()
    let completed = 0
    const done = new Promise<void>((resolve, reject) => {
      worker.on("completed", () => {
        if (++completed === n) resolve()
      })
      worker.on("failed", (_job, error) => reject(error))
    })
    const t = now()
    void worker.run()
    await done
    return now() - t
  } finally {
    await worker.close()
  }
}

/** BullMQ consume: a no-op handler at `concurrency` over `n` jobs added beforehand; msgs/s */
export const bullConsume = (url: string, name: string, n: number, concurrency: number): Promise<number> =>
  withQueue(url, name, async (queue) => {
    await bullAddBulk(queue, n)
    const ms = await bullWork(url, queue, n, concurrency, async () => {})
    return n / (ms / 1000)
  })

/** is redis-benchmark on PATH */
export const hasRedisBenchmark = (): boolean => {
  try {
    execFileSync("redis-benchmark", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** redis-benchmark XADD of `n` entries of 100 bytes with pipelining 16 (50 clients, its default); msgs/s */
export const serverCeiling = (url: string, key: string, n: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const u = new URL(url)
    execFile(
      "redis-benchmark",
      ["-h", u.hostname, "-p", u.port, "-n", String(n), "-P", "16", "--csv", "xadd", key, "*", "payload", payload],
      (error, stdout) => {
        if (error) return reject(error)
        // "test","rps",...  then  "xadd ...","385000.00",...
        const line = stdout.trim().split("\n").pop() ?? ""
        const rps = Number(line.split(",")[1]?.replace(/"/g, ""))
        if (!Number.isFinite(rps) || rps <= 0) return reject(new Error(`redis-benchmark: unexpected output ${stdout}`))
        resolve(rps)
      }
    )
  })
