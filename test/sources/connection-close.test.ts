/**
 * Servers that close the connection after each answer (HTTP/1.0, `Connection: close`): python's
 * `http.server`, and a bare `net` server that sends a whole answer and its FIN in one go. undici 7
 * crashes the process with an assertion nothing can catch when such a server closes while its
 * parser is paused (nodejs/undici#5360); with its default buffer of 64 KiB, any body a little
 * larger than that, arriving before we read it, paused it. Several runs per size, since the crash
 * depends on the moment the FIN lands. Direct requests now go through our own client (h1/), which
 * has no such assertion: a 5 MiB file from python at `--limit-rate 16M`, which crashed undici's
 * route at every run (and still does with RESILIENT_SYNC_HTTP_CLIENT=undici), must pass every run.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256 } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { PYTHON, skipReason, startPythonServer } from "../helpers/web-servers.js";

const SIZES = [70_000, 300_000, 900_000];
const RUNS = 4;

/** Runs the CLI `RUNS` times per size against `urlOf(size)`; each must exit 0, byte-exact. */
async function syncEach(
  t: import("node:test").TestContext,
  urlOf: (size: number) => string,
): Promise<void> {
  const dir = await tempDir(t);
  for (const size of SIZES) {
    for (let run = 0; run < RUNS; run += 1) {
      const out = `out/${size}-${run}.bin`;
      const result = await runCli(singlePair(urlOf(size), dir, out));
      assert.equal(result.code, 0, `${size} bytes, run ${run}: ${result.stderr.slice(-1500)}`);
      assert.equal(sha256(await readFile(join(dir, out))), sha256(bytes(size, size)));
    }
  }
}

describe("servers that close the connection after each answer", () => {
  test("python's http.server: small and middling files, every run", {
    skip: skipReason(PYTHON, "python3", "python3"),
  }, async (t) => {
    const root = join(await tempDir(t), "root");
    await mkdir(root);
    for (const size of SIZES) await writeFile(join(root, `${size}.bin`), bytes(size, size));
    const python = await startPythonServer(PYTHON as string, root);
    t.after(() => python.stop());
    await syncEach(t, (size) => python.url(`/${size}.bin`));
  });

  test("python's http.server: 5 MiB at --limit-rate 16M (the body held paused while the FIN lands)", {
    skip: skipReason(PYTHON, "python3", "python3"),
  }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, "root");
    await mkdir(root);
    const body = bytes(5 * 1024 * 1024, 5);
    await writeFile(join(root, "big.bin"), body);
    const python = await startPythonServer(PYTHON as string, root);
    t.after(() => python.stop());
    for (let run = 0; run < RUNS; run += 1) {
      const out = `out/big-${run}.bin`;
      const result = await runCli(
        singlePair(python.url("/big.bin"), dir, out, "--limit-rate", "16M"),
      );
      assert.equal(result.code, 0, `run ${run}: ${result.stderr.slice(-1500)}`);
      assert.equal(sha256(await readFile(join(dir, out))), sha256(body), `run ${run}`);
    }
  });

  test("an HTTP/1.0 answer and its FIN in one write", async (t) => {
    const server: Server = createServer((socket) => {
      socket.once("data", (request) => {
        const size = Number(/GET \/(\d+)\.bin/.exec(request.toString())?.[1] ?? 0);
        const head = `HTTP/1.0 200 OK\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`;
        socket.end(Buffer.concat([Buffer.from(head), bytes(size, size)]));
      });
      socket.on("error", () => {});
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => server.close());
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    await syncEach(t, (size) => `http://127.0.0.1:${port}/${size}.bin`);
  });
});
