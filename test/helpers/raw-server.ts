/**
 * A bare TCP server that speaks HTTP/1.1 by hand, for what a real server would never do: answers
 * written in slices of chosen sizes, framing faults, connections closed at chosen moments. Each
 * request head read from a connection is handed to `answer` with the socket and its index on that
 * connection; the server counts connections and keeps every request head.
 */
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";

export interface RawServer {
  url(path: string): string;
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Every request head, in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

export type Answer = (socket: Socket, request: string, index: number) => void | Promise<void>;

export async function rawServer(t: TestContext | undefined, answer: Answer): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, requests: [] as string[] };
  const server: Server = createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let pending = "";
    let index = 0;
    let queue = Promise.resolve();
    socket.on("data", (data: Buffer) => {
      pending += data.toString("latin1");
      for (let end = pending.indexOf("\r\n\r\n"); end >= 0; end = pending.indexOf("\r\n\r\n")) {
        const request = pending.slice(0, end + 4);
        pending = pending.slice(end + 4);
        state.requests.push(request);
        const at = index;
        index += 1;
        queue = queue
          .then(() => answer(socket, request, at))
          .catch(() => {
            socket.destroy();
          });
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, "close").catch(() => {});
  };
  t?.after(close);
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    port,
    get connections() {
      return state.connections;
    },
    set connections(value) {
      state.connections = value;
    },
    requests: state.requests,
    close,
  };
}

/** Writes `slices` one by one, each left to go out on its own before the next. */
export async function writeSlices(socket: Socket, slices: Buffer[]): Promise<void> {
  for (const slice of slices) {
    if (socket.destroyed) return;
    if (!socket.write(slice)) await once(socket, "drain").catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
  }
}
