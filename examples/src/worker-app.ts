/**
 * A production-shaped program: an HTTP endpoint that produces orders and a
 * worker that consumes them, in one process, launched with `Consumer.launch`.
 *
 *   POST /orders {"orderId":"o-1","amount":12.5}  -> 202 {"id":"<entry id>"}
 *   GET  /healthz                                  -> 200 ok
 *   GET  /metrics                                  -> the library's metrics (Prometheus text)
 *
 * The worker runs as a layer (`Consumer.layerWorker`) beside the HTTP server.
 * Should it fail for good (here: someone deletes the consumer group; the
 * Consumer does not recreate it), `Consumer.launch` closes the application
 * (the HTTP server stops, in-flight handlers finish) and fails with the
 * error: `NodeRuntime.runMain` logs it and exits with code 1, so the
 * orchestrator restarts the program instead of leaving a server that accepts
 * orders nobody processes. SIGINT/SIGTERM stop it gracefully (exit 0).
 *
 * Run: `PORT=8080 pnpm example:worker-app` (in memory) or with `REDIS_URL=redis://localhost:6379`.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer, Schema } from "effect"
import { Consumer, Metrics, Producer } from "effect-redis-streams"
import { createServer } from "node:http"
import { ExampleBackend, streamKey } from "./backend.js"

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
const STREAM = process.env["STREAM"] ?? streamKey("orders")
const GROUP = "billing"

class Orders extends Context.Tag("example/Orders")<Orders, Producer.Service<typeof Order.Type>>() {}
class Billing extends Context.Tag("example/Billing")<Billing, Consumer.Service<typeof Order.Type>>() {}

const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/orders",
    Effect.gen(function*() {
      const order = yield* HttpServerRequest.schemaBodyJson(Schema.Struct({ orderId: Schema.String, amount: Schema.Number }))
      const id = yield* (yield* Orders).add(order)
      return yield* HttpServerResponse.json({ id }, { status: 202 })
    }).pipe(Effect.catchAll((e) => HttpServerResponse.text(String(e), { status: 400 })))
  ),
  HttpRouter.get("/healthz", HttpServerResponse.text("ok")),
  HttpRouter.get("/metrics", Effect.flatMap(Metrics.prometheus(), (text) => HttpServerResponse.text(text)))
)

const HttpLive = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(NodeHttpServer.layer(createServer, { port: Number(process.env["PORT"] ?? 8080), host: "127.0.0.1" }))
)

/** the handler: one order, charged (here: logged) */
const charge = (message: { readonly id: string; readonly body: typeof Order.Type }) =>
  Effect.logInfo(`charged ${message.body.orderId}: ${message.body.amount}`).pipe(Effect.annotateLogs("entry", message.id))

const WorkerLive = Consumer.layerWorker(Billing, charge, { concurrency: 10 })

const App = Layer.mergeAll(HttpLive, WorkerLive).pipe(
  Layer.provide(Layer.mergeAll(
    Producer.layerAs(Orders, { stream: STREAM, schema: Order }),
    Consumer.layerAs(Billing, { stream: STREAM, group: GROUP, schema: Order, batchSize: 50, maxWait: "100 millis", blockTime: "500 millis" })
  )),
  Layer.provide(ExampleBackend)
)

Consumer.launch(App).pipe(NodeRuntime.runMain)
