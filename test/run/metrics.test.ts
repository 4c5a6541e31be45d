/**
 * `--metrics-file`: the Prometheus text file a node_exporter textfile collector reads, parsed
 * here by a real parser of the format (parse-prometheus-text-format), not by a regex.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, runCli } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

interface Family {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parse = createRequire(import.meta.url)("parse-prometheus-text-format") as (
  text: string,
) => Family[];

const server = useTestServer();

/** The parsed file as `name{labels}` → value. */
async function readMetrics(path: string): Promise<Map<string, number>> {
  const families = parse(await readFile(path, "utf8"));
  const values = new Map<string, number>();
  for (const family of families) {
    assert.equal(family.type, "GAUGE", family.name);
    for (const metric of family.metrics) {
      const labels = Object.entries(metric.labels ?? {})
        .map(([key, value]) => `${key}=${value}`)
        .join(",");
      values.set(labels ? `${family.name}{${labels}}` : family.name, Number(metric.value));
    }
  }
  return values;
}

describe("--metrics-file", () => {
  test("counts by status, bytes, retries, circuits and the last success, replaced atomically", async (t) => {
    const dir = await tempDir(t);
    const metrics = join(dir, "resilient_sync.prom");
    server.route("/m/ok.bin", { body: bytes(4000, 1), script: [{ kind: "status", status: 503 }] });
    const env = { env: { REPO_ROOT: dir } };
    const first = await runCli(
      ["--metrics-file", metrics, "--artifact-root", join(dir, "out"), server.url("/m/ok.bin")],
      env,
    );
    assert.equal(first.code, 0, first.stderr);
    const good = await readMetrics(metrics);
    assert.equal(good.get("resilient_sync_sources{status=synced}"), 1);
    assert.equal(good.get("resilient_sync_sources{status=failed}"), 0);
    assert.equal(good.get("resilient_sync_bytes"), 4000);
    assert.equal(good.get("resilient_sync_retries"), 1);
    assert.equal(good.get("resilient_sync_exit_code"), 0);
    const origin = new URL(server.url("/")).origin;
    assert.equal(good.get(`resilient_sync_circuit_open{origin=${origin}}`), 0);
    const lastSuccess = good.get("resilient_sync_last_success_timestamp_seconds") as number;
    assert.ok(Math.abs(lastSuccess - Date.now() / 1000) < 60);

    // A failing run: its circuit opens; the last success is the earlier run's.
    server.route("/m/bad.bin", {
      body: bytes(10, 2),
      script: Array.from({ length: 5 }, () => ({ kind: "status" as const, status: 500 })),
    });
    const second = await runCli(
      ["--metrics-file", metrics, "--artifact-root", join(dir, "out"), server.url("/m/bad.bin")],
      env,
    );
    assert.equal(second.code, 70, second.stderr);
    const bad = await readMetrics(metrics);
    assert.equal(bad.get("resilient_sync_sources{status=failed}"), 1);
    assert.equal(bad.get("resilient_sync_exit_code"), 70);
    assert.equal(bad.get(`resilient_sync_circuit_open{origin=${origin}}`), 1);
    assert.equal(bad.get("resilient_sync_last_success_timestamp_seconds"), lastSuccess);
    assert.ok((bad.get("resilient_sync_last_run_timestamp_seconds") as number) >= lastSuccess);
  });

  test("local files are no origins: one circuit series per http(s) origin, none per file", async (t) => {
    // A mirror of 100,000 local files gave node_exporter 100,000 circuit series.
    const dir = await tempDir(t);
    const source = join(dir, "local");
    await mkdir(source);
    for (const name of ["a.txt", "b.txt", "c.txt"]) await writeFile(join(source, name), name);
    server.route("/m/one.bin", { body: bytes(100, 3) });
    const metrics = join(dir, "resilient_sync.prom");
    const list = join(dir, "list.txt");
    await writeFile(list, `${source}\n${server.url("/m/one.bin")}\n`);
    const run = await runCli(
      ["--metrics-file", metrics, "--artifact-root", join(dir, "out"), "-i", list],
      { env: { REPO_ROOT: dir } },
    );
    assert.equal(run.code, 0, run.stderr);
    const values = await readMetrics(metrics);
    assert.equal(values.get("resilient_sync_sources{status=synced}"), 4);
    const circuits = [...values.keys()].filter((name) => name.startsWith("resilient_sync_circuit"));
    assert.deepEqual(circuits, [
      `resilient_sync_circuit_open{origin=${new URL(server.url("/")).origin}}`,
    ]);
  });

  test("a run that ends without a report still leaves its exit code (42)", async (t) => {
    const dir = await tempDir(t);
    const metrics = join(dir, "m.prom");
    server.route("/m/env.bin", { body: bytes(10, 4) });
    const run = await runCli(
      [
        "--metrics-file",
        metrics,
        "--lock-dir",
        "/proc/nope",
        "-o",
        join(dir, "x"),
        server.url("/m/env.bin"),
      ],
      { env: { REPO_ROOT: dir } },
    );
    assert.equal(run.code, 42, run.stderr);
    const values = await readMetrics(metrics);
    assert.equal(values.get("resilient_sync_exit_code"), 42);
    assert.equal(values.get("resilient_sync_sources{status=synced}"), 0);
  });

  test("an interrupted run counts what finished before the signal (it wrote zeros)", async (t) => {
    const dir = await tempDir(t);
    const metrics = join(dir, "m.prom");
    server.route("/m/first.bin", { body: bytes(3000, 5) });
    server.route("/m/held.bin", {
      body: bytes(400_000, 6),
      script: [{ kind: "hold", afterBytes: 100_000 }],
    });
    const run = new CliProcess(
      [
        "--metrics-file",
        metrics,
        "--max-workers",
        "1",
        "--artifact-root",
        join(dir, "out"),
        server.url("/m/first.bin"),
        server.url("/m/held.bin"),
      ],
      { env: { REPO_ROOT: dir } },
    );
    await server.waitFor(() => server.bytesSentFor("/m/held.bin") >= 100_000);
    run.child.kill("SIGTERM");
    const result = await run.done;
    assert.equal(result.code, 143, result.stderr);
    const values = await readMetrics(metrics);
    assert.equal(values.get("resilient_sync_exit_code"), 143);
    assert.equal(values.get("resilient_sync_sources{status=synced}"), 1);
    assert.equal(values.get("resilient_sync_bytes"), 3000);
  });

  test("a link planted at the path is replaced, never written through", async (t) => {
    const dir = await tempDir(t);
    const victim = join(dir, "victim.txt");
    await writeFile(victim, "keep me\n");
    const metrics = join(dir, "planted.prom");
    await symlink(victim, metrics);
    server.route("/m/link.bin", { body: bytes(10, 3) });
    const run = await runCli(
      ["--metrics-file", metrics, "--artifact-root", join(dir, "out"), server.url("/m/link.bin")],
      { env: { REPO_ROOT: dir } },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await readFile(victim, "utf8"), "keep me\n");
    assert.ok((await lstat(metrics)).isFile());
    assert.equal((await readMetrics(metrics)).get("resilient_sync_sources{status=synced}"), 1);
  });
});
