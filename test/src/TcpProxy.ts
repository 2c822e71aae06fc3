/**
 * A small loopback TCP proxy for fault injection: forwards every connection to
 * a target port; `stallExisting()` makes the connections open at that moment
 * stop forwarding in both directions (a half-dead connection, as after a NAT
 * or firewall drop) while new connections still work; `close()` ends it all.
 */
import * as Net from "node:net"

export class TcpProxy {
  private readonly sockets = new Set<{ client: Net.Socket; upstream: Net.Socket; stalled: boolean }>()
  private constructor(private readonly server: Net.Server, readonly port: number) {}

  static start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined
      const server = Net.createServer((client) => {
        const upstream = Net.connect(targetPort, targetHost)
        const pair = { client, upstream, stalled: false }
        proxy?.sockets.add(pair)
        client.on("data", (d) => {
          if (!pair.stalled) upstream.write(d)
        })
        upstream.on("data", (d) => {
          if (!pair.stalled) client.write(d)
        })
        const end = () => {
          proxy?.sockets.delete(pair)
          client.destroy()
          upstream.destroy()
        }
        client.on("close", end)
        upstream.on("close", end)
        client.on("error", end)
        upstream.on("error", end)
      })
      server.on("error", reject)
      server.listen(0, "127.0.0.1", () => {
        proxy = new TcpProxy(server, (server.address() as Net.AddressInfo).port)
        resolve(proxy)
      })
    })
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get connections(): number {
    return this.sockets.size
  }

  /** the connections open now stop forwarding (silently; no FIN, no RST) */
  stallExisting(): number {
    let n = 0
    for (const pair of this.sockets) {
      if (!pair.stalled) {
        pair.stalled = true
        n++
      }
    }
    return n
  }

  close(): Promise<void> {
    for (const pair of this.sockets) {
      pair.client.destroy()
      pair.upstream.destroy()
    }
    this.sockets.clear()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
