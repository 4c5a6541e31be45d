import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import stringWidth from "string-width";
import { CLI, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const SAMPLE = fileURLToPath(new URL("../../../sample.csv", import.meta.url));
const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs the CLI on a pseudo-terminal (util-linux `script`) and returns what the terminal showed. */
async function onTerminal(args: string[]): Promise<string> {
  const command = [process.execPath, CLI, ...args]
    .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
    .join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let screen = "";
  child.stdout.on("data", (chunk) => {
    screen += chunk;
  });
  await once(child, "close");
  return screen;
}

describe("what a person at a terminal sees", () => {
  test("progress and a per-source summary on a TTY", {
    skip: hasScript ? false : "util-linux `script` is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const screen = await onTerminal([
      SAMPLE,
      join(dir, "missing.csv"),
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.match(screen, /✓ sample\.csv\s+659 B/);
    assert.match(screen, /✗ missing\.csv .*not_found/);
    assert.match(screen, /2 sources: 1 synced, 0 up to date, 0 skipped, 1 failed/);
    assert.ok(
      !screen.includes('"message":"updated destination"'),
      "info lines do not tear the bars",
    );
    // Errors and warnings are shown (not lost with the bars), as short lines, not JSON.
    assert.match(screen, /✗ missing\.csv: /);
    assert.ok(!screen.includes('{"ts":'), "no JSON line on a terminal");
  });

  test("none of it in pipes: stderr carries JSON lines only", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli([
      SAMPLE,
      join(dir, "missing.csv"),
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(result.code, 1);
    for (const line of result.stderr.split("\n").filter(Boolean))
      assert.ok(line.startsWith("{"), line);
    assert.ok(!result.stderr.includes("✓"));
  });
});

/**
 * A `TerminalRenderer` drawing on a stand-in terminal of `columns` × `rows`; `written()` is all
 * it drew so far.
 */
async function rendererOn(columns: number, rows: number) {
  const { Writable } = await import("node:stream");
  const { TerminalRenderer } = await import("../../src/cli/render.js");
  let drawn = "";
  const terminal = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        drawn += String(chunk);
        done();
      },
    }),
    { isTTY: true, columns, rows },
  ) as unknown as NodeJS.WriteStream;
  return { renderer: new TerminalRenderer(terminal), written: () => drawn };
}

/** `text` without its terminal escape sequences (cursor moves, colours). */
function withoutEscapes(text: string): string {
  return text.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g"), "");
}

describe("a line printed above the bars", () => {
  test("is broken into rows the terminal can show whole (wrapping is off under the bars)", async () => {
    const { renderer, written } = await rendererOn(40, 20);
    renderer.onProgress({ type: "planned", total: 1 });
    const reason = `✗ a.bin: ${"the certificate chain ends in an untrusted root ".repeat(3)}(END)`;
    renderer.log(`${reason}\n`);
    renderer.stop();
    const shown = withoutEscapes(written());
    const rows = shown.split(/\r?\n/).filter((row) => row.trim() !== "");
    assert.ok(rows.length >= 5, shown);
    for (const row of rows) assert.ok(row.length <= 39, `a row wider than the terminal: ${row}`);
    assert.ok(shown.replace(/\r?\n/g, "").includes(reason), "every character of the line is shown");
  });
});

describe("a terminal of unknown size", () => {
  test("(0 columns: a pty nobody sized) is taken as 80 columns, not cut into rows of 20", async () => {
    const { renderer, written } = await rendererOn(0, 0);
    renderer.onProgress({ type: "planned", total: 1 });
    const line = "✗ report-2026-12.csv: HTTP 503 Service Unavailable (END)";
    renderer.log(`${line}\n`);
    renderer.stop();
    assert.ok(written().includes(line), written());
  });
});

describe("a bar's name", () => {
  test("is fitted to columns, not characters, and shows a tab as \\t (wide names overflowed)", async () => {
    const { renderer, written } = await rendererOn(60, 20);
    renderer.onProgress({ type: "planned", total: 2 });
    const wide = "報告書二〇二六年十二月の売上データ一覧表.csv";
    renderer.onProgress({ type: "started", source: "s1", destination: `/d/${wide}` });
    renderer.onProgress({ type: "started", source: "s2", destination: "/d/tab\there.csv" });
    renderer.log(
      "✗ 報告書二〇二六年十二月の売上データ一覧表報告書二〇二六年十二月の売上データ一覧表: gone\n",
    );
    renderer.stop();
    const shown = withoutEscapes(written());
    const rows = shown.split(/\r?\n|\r/).filter((row) => row.trim() !== "");
    assert.ok(
      rows.some((row) => row.startsWith("報告書")),
      shown,
    );
    for (const row of rows)
      assert.ok(
        stringWidth(row) <= 59,
        `a row wider than the terminal (${stringWidth(row)}): ${row}`,
      );
    assert.ok(shown.includes("tab\\there.csv"), shown);
    assert.ok(!shown.includes("\t"), "no raw tab");
  });
});
