/**
 * `-o -` over our http client: each chunk is lent and released once stdout has written it, so the
 * same receive buffers are read into again. Read as a stream instead, every 256 KiB buffer went
 * on for good, and V8 does not collect shared buffers soon: 1 GiB to stdout peaked at 110–120 MiB.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type LogLine, runForBytes } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";

const server = useTestServer();
const MiB = 1024 * 1024;

/** Loaded before the CLI: counts the `SharedArrayBuffer`s made (the receive buffers) and prints it at exit. */
const COUNT_SHARED = `data:text/javascript,${encodeURIComponent(`
  import { writeSync } from "node:fs";
  let made = 0;
  const Shared = globalThis.SharedArrayBuffer;
  globalThis.SharedArrayBuffer = new Proxy(Shared, {
    construct(target, args) { made += 1; return Reflect.construct(target, args); },
  });
  process.on("exit", () => writeSync(2, "@@shared " + made + "\\n"));
`)}`;

async function toStdout(
  args: string[],
  onStdout?: (chunk: Buffer) => void,
): Promise<{ code: number | null; out: Buffer; shared: number; logs: LogLine[] }> {
  const { code, out, err } = await runForBytes(["-o", "-", ...args], {
    nodeArgs: ["--import", COUNT_SHARED],
    onStdout,
  });
  const shared = /@@shared (\d+)/.exec(err);
  assert.ok(shared, `no count in: ${err}`);
  const logs = err
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
  return { code, out, shared: Number(shared[1]), logs };
}

describe("-o - lends the body to stdout", () => {
  test("32 MiB: the bytes exact, through a few receive buffers read into again", async () => {
    const body = bytes(32 * MiB, 71);
    server.route("/stdout/big.bin", { body });
    const run = await toStdout([server.url("/stdout/big.bin")]);
    assert.equal(run.code, 0);
    assert.equal(sha256(run.out), sha256(body));
    // A buffer per 256 KiB read would be 128; lent, the body holds a few MiB at most.
    assert.ok(run.shared < 64, `${run.shared} shared buffers made`);
  });

  test("with --limit-rate the body is paused and resumed, the bytes exact", async () => {
    const body = bytes(MiB, 72);
    server.route("/stdout/slow.bin", { body });
    // Bytes on stdout by half a second after the first: paced, at most the 64 KiB burst, 256 KiB
    // a second's half and one read of up to 256 KiB taken ahead. Unpaced, the whole MiB is there.
    // An upper bound only: a slow machine delivers fewer, never more.
    let first: number | undefined;
    let early = 0;
    const run = await toStdout(
      ["--limit-rate", "512k", server.url("/stdout/slow.bin")],
      (chunk) => {
        const now = performance.now();
        first ??= now;
        if (now - first <= 500) early += chunk.length;
      },
    );
    assert.equal(run.code, 0);
    assert.equal(sha256(run.out), sha256(body));
    assert.ok(early < 800 * 1024, `${early} bytes within 0.5 s of the first`);
    // (1 MiB - the 64 KiB burst) at 512 KiB/s: a lower bound only (a slow machine takes longer).
    const done = run.logs.find((line) => line.message === "download successful");
    assert.ok(Number(done?.duration_ms) >= 1800, `${done?.duration_ms} ms`);
  });
});
