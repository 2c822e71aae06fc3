/**
 * TLS for tests: a throwaway CA with a server and a client certificate (and a
 * second, unrelated CA) generated with `openssl`, and a private
 * `redis-server` with a TLS port on loopback.
 *
 * The server keeps its plain port too (loopback only), so a test can set up
 * users or inspect keys over it with a raw client; everything under test
 * connects to the TLS port.
 */
import { Effect, Scope } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort, type RedisServerProcess, startRedisServerProcess } from "./RedisServer.js"

/** PEM texts and their files, in a temporary directory removed with the scope */
export interface Certificates {
  readonly dir: string
  /** the CA that signed the server and client certificates */
  readonly ca: string
  readonly caFile: string
  readonly serverCertFile: string
  readonly serverKeyFile: string
  readonly clientCert: string
  readonly clientKey: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
  /** a CA that signed nothing here: trusting only it must fail verification */
  readonly otherCa: string
  readonly otherCaFile: string
  /** the client key encrypted with `clientKeyPassphrase` (AES-256) */
  readonly clientKeyEncrypted: string
  readonly clientKeyPassphrase: string
  /** a client certificate signed by the other CA: a server trusting only the CA must refuse it */
  readonly otherClientCert: string
  readonly otherClientKey: string
}

/** true when an `openssl` binary can be run */
export const hasOpenssl = (): boolean => spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0

const openssl = (dir: string, args: ReadonlyArray<string>): void => {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr}`)
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

/** generate everything in a new temporary directory (EC P-256 keys: fast) */
export const generateCertificates = (): Certificates => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-tls-"))
  const file = (name: string) => Path.join(dir, name)
  // the CA
  openssl(dir, ["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ers test CA"])
  // another CA
  openssl(dir, ["req", "-x509", ...EC, "-keyout", "other.key", "-out", "other.crt", "-days", "2", "-subj", "/CN=ers other CA"])
  // the server: localhost and 127.0.0.1
  Fs.writeFileSync(
    file("server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
  )
  openssl(dir, ["req", ...EC, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"])
  openssl(dir, [
    "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.crt", "-days", "2", "-extfile", "server.ext"
  ])
  // a client
  Fs.writeFileSync(file("client.ext"), "extendedKeyUsage=clientAuth\n")
  openssl(dir, ["req", ...EC, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=ers test client"])
  openssl(dir, [
    "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "client.crt", "-days", "2", "-extfile", "client.ext"
  ])
  // the client key, encrypted
  const passphrase = `pass-${randomBytes(12).toString("hex")}`
  openssl(dir, ["pkey", "-in", "client.key", "-aes256", "-passout", `pass:${passphrase}`, "-out", "client-enc.key"])
  // a client of the other CA
  openssl(dir, ["req", ...EC, "-keyout", "stranger.key", "-out", "stranger.csr", "-subj", "/CN=ers stranger"])
  openssl(dir, [
    "x509", "-req", "-in", "stranger.csr", "-CA", "other.crt", "-CAkey", "other.key", "-CAcreateserial",
    "-out", "stranger.crt", "-days", "2", "-extfile", "client.ext"
  ])
  for (const f of ["ca.key", "other.key", "server.key", "client.key", "client-enc.key", "stranger.key"]) Fs.chmodSync(file(f), 0o600)
  const read = (name: string) => Fs.readFileSync(file(name), "utf8")
  return {
    dir,
    ca: read("ca.crt"),
    caFile: file("ca.crt"),
    serverCertFile: file("server.crt"),
    serverKeyFile: file("server.key"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
    clientCertFile: file("client.crt"),
    clientKeyFile: file("client.key"),
    clientKeyEncrypted: read("client-enc.key"),
    clientKeyPassphrase: passphrase,
    otherCa: read("other.crt"),
    otherCaFile: file("other.crt"),
    otherClientCert: read("stranger.crt"),
    otherClientKey: read("stranger.key")
  }
}

/** certificates for the scope; the directory is removed when it closes */
export const certificates: Effect.Effect<Certificates, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(generateCertificates),
  (c) => Effect.sync(() => Fs.rmSync(c.dir, { recursive: true, force: true }))
)

/** a private redis-server stopped with the scope (as `Harness.startRedisServer`, without importing vitest) */
const startServer = (args: { readonly args: ReadonlyArray<string> }): Effect.Effect<RedisServerProcess, unknown, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => startRedisServerProcess(args), catch: (e) => e }),
    (server) => Effect.promise(() => server.dispose())
  )

/** a redis-server with a TLS port */
export interface TlsRedisServer {
  readonly server: RedisServerProcess
  /** the plain (loopback) port's URL, for setup with a raw client */
  readonly plainUrl: string
  readonly tlsPort: number
  /** `rediss://127.0.0.1:<tlsPort>` */
  readonly tlsUrl: string
}

/**
 * Start a private redis-server with `--tls-port` on loopback, stopped with the
 * scope. `authClients` (default false) sets `--tls-auth-clients yes`: the
 * server then requires a client certificate signed by the CA.
 */
export const startTlsRedisServer = (
  certs: Certificates,
  options: { readonly authClients?: boolean; readonly args?: ReadonlyArray<string> } = {}
): Effect.Effect<TlsRedisServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    let lastError: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      const tlsPort = yield* Effect.promise(() => freePort())
      const started = yield* Effect.exit(
        startServer({
          args: [
            "--tls-port", String(tlsPort),
            "--tls-cert-file", certs.serverCertFile,
            "--tls-key-file", certs.serverKeyFile,
            "--tls-ca-cert-file", certs.caFile,
            "--tls-auth-clients", options.authClients === true ? "yes" : "no",
            ...(options.args ?? [])
          ]
        })
      )
      if (started._tag === "Success") {
        return {
          server: started.value,
          plainUrl: started.value.url,
          tlsPort,
          tlsUrl: `rediss://127.0.0.1:${tlsPort}`
        }
      }
      lastError = started.cause
    }
    return yield* Effect.dieMessage(`could not start a TLS redis-server: ${String(lastError)}`)
  })
