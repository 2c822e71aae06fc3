/**
 * The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium,
 * installed by .ci/run; never downloaded) driven by playwright-core, over
 * `redis-streams serve --allow-actions` on the scenario (an idle consumer,
 * a busy one, one with too many pending entries, dead letters) and a
 * stream with a hostile name. Checks what is shown, replays a dead letter
 * through the UI with the token (it leaves the list and arrives in the
 * stream), and that without the token the action is refused. A screenshot
 * is saved to test/artifacts/dashboard.png (a CI artifact, gitignored).
 *
 * Skipped, with the reason, when /usr/bin/chromium is missing (.ci/run
 * installs it; run `apt-get install -y chromium`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { DeadLetter } from "effect-redis-streams"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { rawClient, redisUrl, uniqueKey } from "../src/Harness.js"
import { addEntries, call, scenario, serve } from "./DashboardKit.js"

const CHROMIUM = "/usr/bin/chromium"
const ARTIFACTS = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../artifacts")
const TOKEN = "browser-test-token"
const HOSTILE = "<img src=x onerror=\"window.__pwned=1\">\"'{}\n🚀"

/** a headless Chromium with a fresh profile, closed (and the profile removed) with the scope */
const launch = Effect.acquireRelease(
  call(async () => {
    const profile = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-chromium-"))
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ],
      viewport: { width: 1280, height: 900 }
    })
    return { context, profile }
  }),
  ({ context, profile }) =>
    call(async () => {
      await context.close().catch(() => {})
      Fs.rmSync(profile, { recursive: true, force: true })
    })
)

const text = (page: Page, selector: string) => call(() => page.locator(selector).first().innerText())

/** the status cell of a consumer of `stream` */
const statusOf = (page: Page, stream: string, consumer: string) =>
  call(() =>
    page
      .locator("[data-testid=stream]")
      .filter({ has: page.locator("h2", { hasText: stream }) })
      .locator("tr[data-consumer]")
      .filter({ has: page.locator("td", { hasText: new RegExp(`^${consumer}$`) }) })
      .locator("td.status")
      .innerText()
  )

const openPage = (context: BrowserContext, base: string) =>
  Effect.gen(function*() {
    const page = yield* call(() => context.newPage())
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    page.on("dialog", (d) => {
      errors.push(`dialog: ${d.message()}`)
      void d.dismiss()
    })
    yield* call(() => page.goto(base + "/"))
    yield* call(() => page.waitForSelector("[data-testid=stream] table.groups", { timeout: 15_000 }))
    return { page, errors }
  })

describe.skipIf(!Fs.existsSync(CHROMIUM))("redis-streams serve: the dashboard in Chromium", () => {
  it.scopedLive("statuses and counts shown; replay through the UI with the token; refused without it; screenshot", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const s = uniqueKey("dash-ui")
      const hostile = `${uniqueKey("dash-ui")}:${HOSTILE}`
      yield* scenario(raw, s, 1_500)
      yield* addEntries(raw, hostile, 3)
      yield* call(() => raw.xgroup("CREATE", hostile, HOSTILE, "0"))
      yield* call(() => raw.xreadgroup("GROUP", HOSTILE, HOSTILE, "COUNT", 1, "STREAMS", hostile, ">"))
      const dlq = DeadLetter.defaultStream(s)
      const { base } = yield* serve([s, hostile, "--allow-actions", "--idle-threshold", "1s", "--url", redisUrl()], {
        REDIS_STREAMS_TOKEN: TOKEN
      })
      const { context } = yield* launch
      const { errors, page } = yield* openPage(context, base)

      // what is shown: the statuses, the counts
      assert.strictEqual(yield* statusOf(page, s, "idle"), "IDLE")
      assert.strictEqual(yield* statusOf(page, s, "stuck"), "TOO_MANY_PENDING")
      assert.strictEqual(yield* statusOf(page, s, "busy"), "OK")
      const section = page.locator(`[data-testid=stream]`).filter({ has: page.locator("h2", { hasText: s }) })
      assert.strictEqual(yield* call(() => section.locator(".dlq-count").innerText()), "3")
      assert.strictEqual(yield* call(() => section.locator("tr[data-group=g] td.dead-letters").innerText()), "3")
      const stuckPending = yield* call(() =>
        section.locator("tr[data-consumer=stuck] td.pending").innerText()
      )
      assert.strictEqual(stuckPending, "12")
      assert.include(["OUT", "IN", "NO_SCALE"], yield* call(() => section.locator("tr[data-group=g] td.decision").innerText()))

      // the hostile names are text, never markup
      const names = yield* call(() => page.locator("[data-testid=stream] h2").allInnerTexts())
      assert.include(names.map((n) => n.replace(/\s+/g, " ")), hostile.replace(/\s+/g, " "))
      assert.strictEqual(yield* call(() => page.locator("main img").count()), 0)
      assert.strictEqual(yield* call(() => page.evaluate("typeof window.__pwned")), "undefined")

      // a consumer's pending entries, paged
      yield* call(() => section.locator("tr[data-consumer=stuck] button").click())
      yield* call(() => page.waitForSelector("#pending tr[data-id]"))
      assert.strictEqual(yield* call(() => page.locator("#pending tr[data-id]").count()), 12)

      // the dead letters; replay without the token is refused, nothing changes
      yield* call(() => section.locator("button.open-dlq").click())
      yield* call(() => page.waitForSelector("#dlq tr[data-id]"))
      assert.strictEqual(yield* call(() => page.locator("#dlq tr[data-id]").count()), 3)
      assert.include(yield* text(page, "#dlq"), "<script>window.__pwned = 1</script>")
      const first = yield* call(() => page.locator("#dlq tr[data-id]").first().getAttribute("data-id"))
      yield* call(() => page.locator(`#dlq tr[data-id="${first}"] button.replay`).click())
      yield* call(() => page.waitForSelector("#message.error"))
      assert.match(yield* text(page, "#message"), /replay refused: missing or wrong token/)
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 3)

      // with the token: it leaves the list and arrives in the stream
      const lengthBefore = yield* call(() => raw.xlen(s))
      yield* call(() => page.fill("#token", TOKEN))
      yield* call(() => page.locator("#token").dispatchEvent("change"))
      yield* call(() => page.locator(`#dlq tr[data-id="${first}"] button.replay`).click())
      yield* call(() => page.waitForSelector(`#dlq tr[data-id="${first}"]`, { state: "detached" }))
      assert.match(yield* text(page, "#message"), /^replayed 1 as \d+-\d+$/)
      const newId = (yield* text(page, "#message")).replace(/^replayed 1 as /, "")
      assert.strictEqual(yield* call(() => page.locator("#dlq tr[data-id]").count()), 2)
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 2)
      assert.deepStrictEqual(yield* call(() => raw.xrange(s, newId, newId)), [[newId, ["order", "1-1"]]])
      assert.isAbove(yield* call(() => raw.xlen(s)), lengthBefore)
      // the overview catches up: two dead letters left
      // (the page's script runs in the browser: the check is passed as source text, no DOM types here)
      yield* call(() =>
        page.waitForFunction(
          `Array.from(document.querySelectorAll("[data-testid=stream]")).some((el) =>
            el.querySelector("h2").textContent === ${JSON.stringify(s)} && el.querySelector(".dlq-count").textContent === "2")`,
          undefined,
          { timeout: 10_000 }
        )
      )

      yield* Effect.sleep(Duration.millis(300))
      Fs.mkdirSync(ARTIFACTS, { recursive: true })
      yield* call(() => page.screenshot({ path: Path.join(ARTIFACTS, "dashboard.png"), fullPage: true }))
      assert.deepStrictEqual(errors, [])
    }), { timeout: 120_000 })
})
