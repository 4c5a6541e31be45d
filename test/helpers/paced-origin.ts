/**
 * A standalone origin for tests that run it as a child process — inside a network namespace,
 * say: `node paced-origin.js SIZE BYTES_PER_SECOND [HOST]`. It serves the same SIZE deterministic
 * bytes at every path (a strong ETag, `Range`) no faster than the given rate to each request,
 * listening on HOST (default 127.0.0.1), and reports on stdout, one JSON object a line:
 * `{"listening":PORT}`, then `{"request":{"path":…,"range":…}}` for every request and
 * `{"sent":N}` each time another MiB has been handed to the socket.
 */
import { createServer } from "node:http";
import { bytes, etagOf } from "./server.js";

const size = Number(process.argv[2] ?? 1 << 20);
const rate = Number(process.argv[3] ?? 1 << 20);
const host = process.argv[4] ?? "127.0.0.1";
const body = bytes(size, 7);
const etag = etagOf(body);
const lastModified = new Date(Date.UTC(2026, 0, 1)).toUTCString();
const CHUNK = 64 * 1024;
let sent = 0;
let reported = 0;

const report = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

const server = createServer((req, res) => {
  const range = req.headers.range;
  report({ request: { path: req.url, range: range ?? null } });
  let start = 0;
  const match = typeof range === "string" ? /^bytes=(\d+)-$/.exec(range) : null;
  const ifRange = req.headers["if-range"];
  if (match && (ifRange === undefined || ifRange === etag)) start = Number(match[1]);
  if (start >= size && match) {
    res.writeHead(416, { "content-range": `bytes */${size}` }).end();
    return;
  }
  const headers = {
    etag,
    "last-modified": lastModified,
    "accept-ranges": "bytes",
    "content-length": String(size - start),
  };
  if (start > 0)
    res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${size - 1}/${size}` });
  else res.writeHead(200, headers);
  if (req.method === "HEAD") return res.end();
  const began = Date.now();
  let offset = start;
  const next = () => {
    if (res.destroyed) return;
    if (offset >= size) return res.end();
    // Paced: never ahead of `rate` since this answer began.
    const due = began + ((offset - start) / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) return void setTimeout(next, wait);
    const chunk = body.subarray(offset, Math.min(size, offset + CHUNK));
    offset += chunk.length;
    sent += chunk.length;
    if (sent - reported >= 1 << 20) {
      reported = sent;
      report({ sent });
    }
    if (res.write(chunk)) setImmediate(next);
    else res.once("drain", next);
  };
  res.on("error", () => {});
  next();
});
server.keepAliveTimeout = 1000;
server.listen(0, host, () => {
  const address = server.address();
  report({ listening: typeof address === "object" && address ? address.port : 0 });
});
process.on("SIGTERM", () => process.exit(0));
