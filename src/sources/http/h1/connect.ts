/**
 * Opening a connection: TCP, or TLS with ALPN `http/1.1` only (node:tls loaded only when an https
 * URL is met), its reads wired with `onread` into a cursor over the client's slots before the
 * first byte can arrive, within the connect timeout and until the abort.
 */
import { isIP, connect as netConnect, type Socket } from "node:net";
import { ReadCursor, type SlotPool } from "./buffers.js";
import { H1Connection } from "./connection.js";
import { H1Error } from "./errors.js";

export interface Target {
  https: boolean;
  /** A name or an address (an IPv6 one without brackets). */
  host: string;
  port: number;
}

export interface ConnectionSettings {
  timeoutMs: number;
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  maxHeaderBytes: number;
  slots: SlotPool;
}

/** Opens a connection to `target`; rejects with the socket's error, a timeout or the abort reason. */
export async function openConnection(
  target: Target,
  settings: ConnectionSettings,
  signal: AbortSignal,
): Promise<H1Connection> {
  signal.throwIfAborted();
  const cursor = new ReadCursor(settings.slots);
  let connection: H1Connection | undefined;
  const onread = {
    buffer: () => cursor.next(),
    // `room` is what `buffer` gave: the bytes are at its start.
    callback: (bytes: number, room: Uint8Array): boolean => {
      const landed = cursor.landed(bytes, room as Buffer);
      connection?.onRead(bytes, landed);
      return true; // the connection pauses the socket itself when it must
    },
  };
  const base = { host: target.host, port: target.port, onread, noDelay: true };
  let socket: Socket;
  if (target.https) {
    // Loaded only when an https URL is met: plain http runs never pay for it.
    const tls = await import("node:tls");
    const { ca, cert, key, rejectUnauthorized } = settings.tls;
    socket = tls.connect({
      ...base,
      ...(isIP(target.host) ? {} : { servername: target.host }),
      ALPNProtocols: ["http/1.1"],
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      rejectUnauthorized,
    });
  } else {
    socket = netConnect(base);
  }
  await new Promise<void>((resolve, reject) => {
    const done = (error?: unknown) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.off("error", done);
      socket.off(target.https ? "secureConnect" : "connect", onConnect);
      if (error === undefined) return resolve();
      socket.destroy();
      cursor.close();
      reject(error);
    };
    const onConnect = () => {
      connection = new H1Connection(socket, cursor, settings);
      done();
    };
    const onAbort = () => done(signal.reason);
    const timer = setTimeout(
      () =>
        done(new H1Error("H1_CONNECT_TIMEOUT", `no connection within ${settings.timeoutMs} ms`)),
      settings.timeoutMs,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", done);
    socket.once(target.https ? "secureConnect" : "connect", onConnect);
  });
  return connection as unknown as H1Connection;
}
