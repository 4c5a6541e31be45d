/** Runs the real CLI as a child process and collects its exit, output and parsed log lines. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../cli/main.js", import.meta.url));

export interface LogLine {
  ts: string;
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every JSON log line, from both streams, in arrival order per stream (stdout first). */
  logs: LogLine[];
  stdoutLogs: LogLine[];
  stderrLogs: LogLine[];
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  /** A command that runs the CLI (`setpriv --reuid=…`): it must exec it, keeping its pid. */
  wrapper?: string[];
}

function parseLines(text: string): LogLine[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"message"'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}

/** A running CLI: wait for a log message, signal it, await its end. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly done: Promise<CliResult>;

  constructor(args: string[], options: RunOptions = {}) {
    const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath, CLI, ...args];
    this.child = spawn(command as string, prefix, {
      cwd: options.cwd,
      env: { ...process.env, RESILIENT_SYNC_DELAY_SCALE: "0.001", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stdout += chunk;
      this.child.emit("output");
    });
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      this.child.emit("output");
    });
    this.child.stdin?.end(options.input ?? "");
    const child = this.child;
    this.done = (async () => {
      const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
      const stdoutLogs = parseLines(this.stdout);
      const stderrLogs = parseLines(this.stderr);
      return {
        code,
        signal,
        stdout: this.stdout,
        stderr: this.stderr,
        logs: [...stdoutLogs, ...stderrLogs],
        stdoutLogs,
        stderrLogs,
      };
    })();
  }

  logs(): LogLine[] {
    return [...parseLines(this.stdout), ...parseLines(this.stderr)];
  }

  /**
   * Resolves once the process is stopped (state `T`): a `:stop` failpoint logs before it stops
   * itself, and a SIGCONT sent in between would be lost. Polls /proc (bounded: 5 s).
   */
  async untilStopped(): Promise<void> {
    for (let tries = 0; tries < 500; tries += 1) {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, "utf8");
      if (/\) T /.test(stat)) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`process ${this.child.pid} did not stop`);
  }

  /** Resolves when a log line with `message` has been printed. */
  async waitForLog(message: string, timeoutMs = 10_000): Promise<LogLine> {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const line = this.logs().find((l) => l.message === message);
      if (line) return line;
      if (this.child.exitCode !== null)
        throw new Error(`exited before logging ${message}: ${this.stderr}`);
      await once(this.child, "output", { signal });
    }
  }
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new CliProcess(args, options).done;
}

export function messages(result: CliResult): string[] {
  return result.logs.map((line) => line.message);
}

export function findLog(result: CliResult, message: string): LogLine | undefined {
  return result.logs.find((line) => line.message === message);
}

/** The single-pair command line most tests run: `url` into `dir/destination`, state in `dir/locks`. */
export function singlePair(
  url: string,
  dir: string,
  destination: string,
  ...extra: string[]
): string[] {
  return [
    "--source-url",
    url,
    "--destination",
    join(dir, destination),
    "--lock-dir",
    join(dir, "locks"),
    ...extra,
  ];
}

/** A run of many sources into `dir/out`, state in `dir/l`: what the batch tests run. */
export function intoArtifactRoot(sources: string[], dir: string, ...extra: string[]): string[] {
  return [...sources, "--artifact-root", join(dir, "out"), "--lock-dir", join(dir, "l"), ...extra];
}

/**
 * Runs the CLI with stdout kept as bytes (a body written to it is binary). `nodeArgs` go to node
 * before the CLI (a preload, say); `onStdout` sees each piece of stdout as it comes.
 */
export async function runForBytes(
  args: string[],
  options: {
    nodeArgs?: string[];
    onStdout?: (chunk: Buffer) => void;
    cwd?: string;
    /** A descriptor to give the CLI as its stdout (a file, `/dev/full`) instead of a pipe. */
    stdoutFd?: number;
  } = {},
): Promise<{ code: number | null; out: Buffer; err: string }> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
    env: { ...process.env, RESILIENT_SYNC_DELAY_SCALE: "0.001" },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ["ignore", options.stdoutFd ?? "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out.push(chunk);
    options.onStdout?.(chunk);
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, out: Buffer.concat(out), err };
}
