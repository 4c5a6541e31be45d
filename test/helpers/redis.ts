/**
 * A real `redis-server` (Debian's) for the tests: started on a free 127.0.0.1 port, with no
 * persistence (`--save "" --appendonly no`) and its own temp dir, ready once it says so on its
 * output (never a fixed sleep); stopped (or killed, for the tests of a Redis lost mid-run) by the
 * test. `REDIS_SKIP` says why the Redis tests are skipped when the binary is missing.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { freePort } from "./proxy.js";

const BINARY = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "redis-server"].find(
  (path) => spawnSync(path, ["--version"]).status === 0,
);

/** Why the tests that need Redis are skipped, or `false` when they can run. */
export const REDIS_SKIP: string | false = BINARY
  ? false
  : "redis-server is not installed (apt-get install redis-server; .ci/run does)";

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT/db`. */
  url(db?: number): string;
  /** The running server process (a new one after `restart`). */
  readonly process: ChildProcess;
  /** Stops it (SIGTERM, then waits for its exit) and removes its dir. Idempotent. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would, and waits for its exit. */
  kill(): Promise<void>;
  /**
   * Shuts it down (SIGTERM: an append-only file is flushed) and starts it again on the same
   * port and dir; resolves once it accepts connections again. Only with `persist`. `whileDown`
   * runs (and is awaited) between the stop and the start.
   */
  restart(whileDown?: () => Promise<unknown>): Promise<void>;
}

/** Resolves once the server says it is ready; rejects when it exits first or stays silent for 10 s. */
function untilReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => done(new Error(`redis-server not ready in 10 s: ${output}`)),
      10_000,
    );
    const onData = (chunk: string) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) done();
    };
    const onExit = () => done(new Error(`redis-server exited at start: ${output}`));
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve();
    };
    child.stdout?.setEncoding("utf8").on("data", onData);
    child.once("exit", onExit);
  });
}

/** A redis-server on `port` with its files in `dir`, once ready (its output drained after). */
async function launch(
  port: number,
  dir: string,
  persist: boolean,
  where: RedisPlace,
): Promise<ChildProcess> {
  const [command, ...prefix] = [...(where.wrapper ?? []), BINARY as string];
  const bind = where.bind ?? "127.0.0.1";
  const child = spawn(
    command as string,
    [
      ...prefix,
      "--port",
      String(port),
      "--bind",
      bind,
      // Reachable beyond loopback only inside a namespace of the test's own.
      ...(bind === "127.0.0.1" ? [] : ["--protected-mode", "no"]),
      ...(where.password === undefined ? [] : ["--requirepass", where.password]),
      "--save",
      "",
      "--appendonly",
      persist ? "yes" : "no",
      "--appendfsync",
      "always",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--loglevel",
      "notice",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stderr?.resume();
  try {
    await untilReady(child);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  child.stdout?.resume();
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** Where the server runs: inside a namespace (`ip netns exec NAME`), bound to `bind`. */
export interface RedisPlace {
  wrapper?: string[];
  bind?: string;
  /** The `default` user's password (`--requirepass`); none by default. */
  password?: string;
}

/**
 * Starts a redis-server (a few tries: a free port may be taken before the server binds it).
 * `persist`: an append-only file, fsynced on every write, so that `restart` keeps the data.
 */
export async function startRedis(
  options: { persist?: boolean } & RedisPlace = {},
): Promise<RedisServer> {
  if (!BINARY) throw new Error(String(REDIS_SKIP));
  const persist = options.persist ?? false;
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-redis-"));
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await launch(port, dir, persist, options);
    } catch (error) {
      if (attempt < 3) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    const end = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited(child);
    };
    return {
      port,
      url: (db = 0) => `redis://${options.bind ?? "127.0.0.1"}:${port}/${db}`,
      get process() {
        return child;
      },
      stop: async () => {
        await end("SIGTERM");
        await rm(dir, { recursive: true, force: true });
      },
      kill: () => end("SIGKILL"),
      restart: async (whileDown) => {
        if (!persist) throw new Error("restart() needs startRedis({ persist: true })");
        await end("SIGTERM");
        await whileDown?.();
        child = await launch(port, dir, persist, options);
      },
    };
  }
}

/** A redis-server started before a file's tests and stopped after them (absent when skipped). */
export function useRedis(): { readonly server: RedisServer } {
  let started: RedisServer | undefined;
  before(async () => {
    if (!REDIS_SKIP) started = await startRedis();
  });
  after(() => started?.stop());
  return {
    get server(): RedisServer {
      if (!started) throw new Error("redis-server starts in before()");
      return started;
    },
  };
}
