/**
 * The `--json` document written as the run goes: valid and whole at the end, in plan order,
 * redacted, closed whole when the run is interrupted, and absent when the plan is refused.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { SourceResult } from "../../src/index.js";
import { sync } from "../../src/index.js";
import { CliProcess, runCli } from "../helpers/cli.js";
import { assertValidReport } from "../helpers/schema.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

describe("the --json document, streamed", () => {
  test("many results across many writes: valid, whole, in plan order, secrets redacted", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "src");
    await mkdir(source);
    // Enough results for several of the writer's batches (64 KiB each).
    const names = Array.from({ length: 600 }, (_, i) => `f${String(i).padStart(4, "0")}`);
    await Promise.all(names.map((name) => writeFile(join(source, name), name)));
    server.route("/doc/secret.bin", { body: bytes(1000, 7) });
    const secretUrl = server.url("/doc/secret.bin?token=STREAMEDSECRET&plain=visible");
    const result = await runCli([
      secretUrl,
      source,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-workers",
      "8",
      "--json",
      "--quiet",
    ]);
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.ok(result.stdout.length > 3 * 64 * 1024, `a document of ${result.stdout.length} bytes`);
    assert.ok(!result.stdout.includes("STREAMEDSECRET"), "the secret is redacted");
    const report = JSON.parse(result.stdout);
    assertValidReport(report);
    assert.equal(report.results.length, 601);
    assert.match(report.results[0].source, /token=\*\*\*&plain=visible$/);
    assert.deepEqual(
      report.results.slice(1).map((r: SourceResult) => r.source),
      names.map((name) => join(source, name)),
      "plan order, whatever order the transfers finished in",
    );
    assert.deepEqual(report.summary, {
      total: 601,
      synced: 601,
      unchanged: 0,
      skipped: 0,
      failed: 0,
      bytes: 1000 + names.reduce((sum, name) => sum + name.length, 0),
    });
  });

  test("SIGINT mid-batch: the document is closed whole, with what finished and exit_code 130", async (t) => {
    const dir = await tempDir(t);
    const quick = [0, 1, 2].map((i) => {
      server.route(`/int/q${i}.bin`, { body: bytes(2000, 20 + i) });
      return server.url(`/int/q${i}.bin${i === 0 ? "?token=INTERRUPTEDSECRET" : ""}`);
    });
    const held = [0, 1].map((i) => {
      server.route(`/int/h${i}.bin`, {
        body: bytes(100_000, 30 + i),
        script: [{ kind: "hold", afterBytes: 1000 }],
      });
      return server.url(`/int/h${i}.bin`);
    });
    const run = new CliProcess([
      ...quick,
      ...held,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-workers",
      "2",
      "--json",
    ]);
    // The three quick files are done and both held ones are in flight.
    const done = () => run.logs().filter((line) => line.message === "updated destination").length;
    const waiting = AbortSignal.timeout(10_000);
    while (done() < 3) await once(run.child, "output", { signal: waiting });
    run.child.kill("SIGINT");
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr.slice(0, 2000));
    assert.ok(!result.stdout.includes("INTERRUPTEDSECRET"), "the secret is redacted");
    const report = JSON.parse(result.stdout);
    assertValidReport(report);
    assert.equal(report.exit_code, 130);
    assert.deepEqual(
      report.results.map((r: SourceResult) => [r.destination.slice(-6), r.status]),
      [
        ["q0.bin", "synced"],
        ["q1.bin", "synced"],
        ["q2.bin", "synced"],
      ],
    );
    assert.equal(report.summary.total, 3);
    assert.equal(report.summary.synced, 3);
  });

  test("a refused plan (one destination inside another) writes no document and no file", async (t) => {
    const dir = await tempDir(t);
    const a = join(dir, "a");
    const b = join(dir, "b");
    await mkdir(join(a, "same"), { recursive: true });
    await mkdir(b, { recursive: true });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => writeFile(join(a, "same", `f${i}`), "a")),
    );
    // A file named like the folder: out/same, with out/same/f0 … planned inside it.
    await writeFile(join(b, "same"), "b");
    const result = await runCli([
      join(a, "same"),
      join(b, "same"),
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 64, result.stderr.slice(0, 2000));
    assert.equal(result.stdout, "", "no document");
    assert.deepEqual(await listFiles(join(dir, "out")), [], "nothing written");
    assert.deepEqual(await listFiles(join(dir, "locks")), [], "no state written");
  });

  test("library: onResult takes every result in plan order; retainResults: false keeps none", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "src");
    await mkdir(source);
    const names = Array.from({ length: 50 }, (_, i) => `n${String(i).padStart(2, "0")}`);
    await Promise.all(names.map((name) => writeFile(join(source, name), name)));
    const taken: Array<[number, string]> = [];
    const report = await sync({
      sources: [source],
      artifactRoot: join(dir, "out"),
      lockDir: join(dir, "locks"),
      maxWorkers: 8,
      retainResults: false,
      onResult: async (result, index) => {
        taken.push([index, result.source]);
        // A slow sink holds the workers back; every result still comes, once, in order.
        if (index % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      },
    });
    assert.deepEqual(report.results, []);
    assert.equal(report.summary.total, 50);
    assert.equal(report.summary.synced, 50);
    assert.equal(report.exit_code, 0);
    assert.deepEqual(
      taken,
      names.map((name, i) => [i, join(source, name)]),
    );
  });
});
