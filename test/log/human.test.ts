/** The terminal logger's retry lines: a pair's attempt budget, kept while it runs and no longer. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLogger } from "../../src/log/events.js";
import { humanTerminal, type RetryNotice } from "../../src/log/human.js";
import { Redactor } from "../../src/log/redact.js";

const pair = { source: "https://origin.test/a.bin", destination: "/data/a.bin" };

function terminal() {
  const notices: RetryNotice[] = [];
  const logger = humanTerminal({
    json: silentLogger,
    write: () => {},
    redactor: new Redactor(),
    minLevel: "warning",
    onRetry: (notice) => notices.push(notice),
  });
  const retry = () =>
    logger.emit("info", "sleeping before retry", {
      ...pair,
      attempt: 1,
      next_attempt: 2,
      delay_ms: 10,
      retry_after_ms: null,
    });
  const start = () =>
    logger.emit("info", "attempting download", {
      ...pair,
      attempt: 1,
      max_attempts: 5,
      resume_from: 0,
    });
  return { logger, notices, retry, start };
}

describe("the terminal logger", () => {
  test("a retry line counts against the pair's attempt budget while the pair runs", () => {
    const { notices, retry, start } = terminal();
    start();
    retry();
    assert.equal(notices[0]?.maxAttempts, 5);
  });

  for (const [message, fields] of [
    ["destination already up-to-date", { checksum: null, reason: "source not modified" }],
    ["another synchronization is in progress", { lock: "l" }],
    ["lock lost", { lock: "l", reason: "r" }],
    [
      "download successful",
      { attempt: 1, bytes: 1, duration_ms: 1, resumed_from: 0, verified_by: [] },
    ],
    ["synchronization failed", { error_code: "network", reason: "r" }],
    ["exhausted retries", { error_code: "network", reason: "r", attempts: 5 }],
  ] as const) {
    test(`the budget goes with the pair's last message: ${message}`, () => {
      const { logger, notices, retry, start } = terminal();
      start();
      const level =
        message === "synchronization failed" || message === "exhausted retries" ? "error" : "info";
      // biome-ignore lint/suspicious/noExplicitAny: each message with its own fields.
      logger.emit(level, message as any, { ...pair, ...fields } as any);
      retry();
      assert.equal(notices[0]?.maxAttempts, undefined, "nothing kept of the finished pair");
    });
  }
});

describe("a failed transfer at the terminal", () => {
  const failure = { error_code: "not_found", reason: "https://origin.test/a.bin: HTTP 404" };
  const linesOf = (events: [string, Record<string, unknown>][]) => {
    const lines: string[] = [];
    const logger = humanTerminal({
      json: silentLogger,
      write: (text) => lines.push(text),
      redactor: new Redactor(),
      minLevel: "warning",
    });
    for (const [message, fields] of events)
      logger.emit("error", message as "synchronization failed", { ...pair, ...fields } as never);
    return lines;
  };

  test("its failure is one line: the closing 'synchronization failed' does not repeat it", () => {
    const lines = linesOf([
      ["download failed", { ...failure, attempt: 1, retryable: false }],
      ["synchronization failed", failure],
    ]);
    assert.deepEqual(lines, ["✗ a.bin: HTTP 404\n"]);
  });

  test("a 'synchronization failed' that says something new is shown", () => {
    const lines = linesOf([
      ["download failed", { ...failure, attempt: 1, retryable: false }],
      ["synchronization failed", { error_code: "write_error", reason: "disk full" }],
    ]);
    assert.equal(lines.length, 2, lines.join(""));
  });
});

describe("a dry run at the terminal", () => {
  const linesAt = (minLevel: "info" | "warning") => {
    const lines: string[] = [];
    const logger = humanTerminal({
      json: silentLogger,
      write: (text) => lines.push(text),
      redactor: new Redactor(),
      minLevel,
      infoOnTerminal: true,
    });
    logger.emit("info", "would fetch", { ...pair, reason: "never synced" });
    logger.emit("info", "attempting download", {
      ...pair,
      attempt: 1,
      max_attempts: 5,
      resume_from: 0,
    });
    return lines;
  };

  test("says what it would fetch, and why, at the default level (it said nothing)", () => {
    assert.deepEqual(linesAt("info"), ["· a.bin: would fetch (never synced)\n"]);
  });

  test("-q keeps it quiet", () => {
    assert.deepEqual(linesAt("warning"), []);
  });
});

describe("the closing summary", () => {
  /** The lines a clean run's `synchronization complete` gives at -v (a terminal the info goes to). */
  const summaryAtVerbose = (
    counts: { total: number; synced: number; unchanged: number },
    summaryShown = false,
  ) => {
    const lines: string[] = [];
    const logger = humanTerminal({
      json: silentLogger,
      write: (text) => lines.push(text),
      redactor: new Redactor(),
      minLevel: "debug",
      infoOnTerminal: true,
      summaryShown,
    });
    logger.emit("info", "synchronization complete", {
      exit_code: 0,
      duration_ms: 5,
      skipped: 0,
      failed: 0,
      bytes: 9,
      ...counts,
    });
    return lines;
  };

  test("at -v gives every count (a clean run said `0 of 1 failed`)", () => {
    assert.deepEqual(summaryAtVerbose({ total: 3, synced: 1, unchanged: 2 }), [
      "· 3 sources: 1 synced, 2 up to date, 0 skipped, 0 failed · exit 0\n",
    ]);
  });

  test("is said once under the bars at -v (their summary said it a second time)", () => {
    assert.deepEqual(summaryAtVerbose({ total: 1, synced: 1, unchanged: 0 }, true), []);
  });
});
