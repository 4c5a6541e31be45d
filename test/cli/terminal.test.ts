/**
 * What a person sees at a terminal, read from a real pseudo-terminal (util-linux `script`):
 * short human lines instead of JSON, a retry wait with its countdown, byte progress with a
 * percentage, rate and ETA, and the closing lines. Pipes keep JSON (the other CLI tests).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const SCRIPT_SKIP =
  spawnSync("script", ["--version"]).status === 0 ? false : "util-linux `script` is not installed";

const HIDE = `${String.fromCharCode(27)}[?25l`;
const SHOW = `${String.fromCharCode(27)}[?25h`;

/** Resolves once process `pid` is stopped (state T); bounded to 5 s. */
async function stopped(pid: number): Promise<void> {
  for (let tries = 0; tries < 500; tries += 1) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`process ${pid} did not stop`);
}

const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

/** Runs the CLI on a 100×30 pseudo-terminal; resolves to what the screen received, escapes removed. */
async function onTerminal(
  args: string[],
  env: Record<string, string>,
  /** Called with the CLI's pid and `script`'s, once the bars are up. */
  whileDrawing?: (pid: number, scriptPid: number) => Promise<void>,
): Promise<{ code: number | null; screen: string; raw: string }> {
  const quoted = [process.execPath, CLI, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`);
  const child = spawn(
    "script",
    ["-qfec", `stty cols 100 rows 30; exec ${quoted.join(" ")}`, "/dev/null"],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let raw = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    raw += chunk;
  });
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  if (whileDrawing) {
    // `script` runs a shell that execs the CLI: its one child. Both waits are bounded.
    let pid: number | undefined;
    for (let tries = 0; tries < 500 && (pid === undefined || !raw.includes(HIDE)); tries += 1) {
      const found = spawnSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" });
      pid = Number.parseInt(found.stdout, 10) || undefined;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(pid !== undefined && raw.includes(HIDE), "the bars were drawn");
    await whileDrawing(pid, child.pid as number);
  }
  const code = await closed;
  // Escape sequences (cursor moves, show/hide) removed: what is left is the text shown.
  const screen = raw.replace(CSI, "").replace(/\r/g, "\n");
  return { code, screen, raw };
}

describe("at a terminal", { skip: SCRIPT_SKIP }, () => {
  test("a retry shows its reason and countdown; progress shows bytes, %, rate and ETA; no JSON", async (t) => {
    const dir = await tempDir(t);
    server.route("/term/data.bin", {
      body: bytes(400 * 1024, 9),
      script: [{ kind: "status", status: 503 }],
      pace: { chunkBytes: 16 * 1024, intervalMs: 40 },
    });
    const { code, screen } = await onTerminal(
      ["--artifact-root", dir, server.url("/term/data.bin")],
      { REPO_ROOT: dir, RESILIENT_SYNC_DELAY_SCALE: "0.5" },
    );
    assert.equal(code, 0, screen);
    assert.match(screen, /↻ data\.bin: HTTP 503, retry 2\/5 in \d+\.\d s/);
    assert.match(
      screen,
      /↻ HTTP 503, retry 2\/5 in \d+ ms|↻ HTTP 503, retry 2\/5 in \d\.\d s/,
      "the bar counts down",
    );
    assert.match(
      screen,
      /KiB \/ 400 KiB · \d+% · [\d.]+ (KiB|MiB)\/s · ETA /,
      "per-file bytes, %, rate, ETA",
    );
    assert.match(screen, /0\/1 files · /);
    assert.match(screen, /✓ data\.bin\s+400 KiB/);
    assert.match(screen, /1 source: 1 synced/);
    assert.doesNotMatch(screen, /\{"ts":/, "no JSON line on the terminal");
  });

  test("a file name with terminal escapes is shown escaped, never sent to the terminal raw", async (t) => {
    const dir = await tempDir(t);
    const hostile = `${String.fromCharCode(27)}]0;PWNED${String.fromCharCode(7)}x.bin`;
    await mkdir(join(dir, "src"));
    await writeFile(join(dir, "src", hostile), "data");
    const { raw } = await onTerminal(["--artifact-root", join(dir, "out"), join(dir, "src")], {
      REPO_ROOT: dir,
    });
    assert.ok(!raw.includes(`${String.fromCharCode(27)}]0;PWNED`), "no raw OSC sequence");
    assert.ok(raw.includes("\\x1b]0;PWNED\\x07x.bin"), raw);
  });

  test("a dry run says what it would fetch; TERM=dumb gets lines, no cursor moves", async (t) => {
    const dir = await tempDir(t);
    server.route("/term/planned.bin", { body: bytes(1000, 11) });
    const { code, screen, raw } = await onTerminal(
      ["--dry-run", "--artifact-root", dir, server.url("/term/planned.bin")],
      { REPO_ROOT: dir, TERM: "dumb" },
    );
    assert.equal(code, 0, screen);
    assert.match(screen, /· planned\.bin: would fetch \(never synced\)/);
    assert.doesNotMatch(raw, /\[\?25l|\[\?7l/, "no hidden cursor, no wrapping turned off");
  });

  test("Ctrl-Z gives the terminal back with its cursor shown; fg brings the bars back", async (t) => {
    const dir = await tempDir(t);
    server.route("/term/paused.bin", {
      body: bytes(300 * 1024, 12),
      pace: { chunkBytes: 16 * 1024, intervalMs: 40 },
    });
    const { code, raw } = await onTerminal(
      ["--artifact-root", dir, server.url("/term/paused.bin")],
      { REPO_ROOT: dir },
      async (pid, scriptPid) => {
        process.kill(pid, "SIGTSTP");
        await stopped(pid);
        // `script` stops itself with its child, as a shell's job would: both are continued.
        for (const stoppedPid of [scriptPid, pid]) process.kill(stoppedPid, "SIGCONT");
      },
    );
    assert.equal(code, 0);
    // Hidden for the bars, shown for the stop, hidden again for the bars, shown at the end.
    const shown = raw.indexOf(SHOW, raw.indexOf(HIDE));
    assert.ok(shown > 0 && raw.indexOf(HIDE, shown) > shown, "the cursor was shown while stopped");
  });

  test("a usage error is one plain sentence with the closest option", async () => {
    const { code, screen } = await onTerminal(["--destinaton", "x", "http://127.0.0.1:1/a"], {});
    assert.equal(code, 64);
    assert.match(
      screen,
      /resilient-sync: unknown option --destinaton \(did you mean --destination\?\); see resilient-sync --help/,
    );
    assert.doesNotMatch(screen, /\{"ts":/);
  });
});
