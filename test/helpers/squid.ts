/**
 * A real squid on 127.0.0.1, started for a test from a config written into the test's temp
 * folder: a free port, no cache, every file it writes (pid, logs) in that folder, optional Basic
 * auth through squid's own `basic_ncsa_auth` helper. Run in the foreground (`-N`), so the test
 * owns the process and stops it. `hasSquid` says whether it is installed (the tests skip if not).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { access, chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { accepting, freePort } from "./proxy.js";

/** Debian's path of squid (not on a non-root user's PATH there). */
export const SQUID = "/usr/sbin/squid";
/** Whether squid is installed: the squid tests skip, saying so, when not. */
export const hasSquid = spawnSync(SQUID, ["-v"]).status === 0;
/** Debian's path of squid's Basic auth helper for htpasswd-style files. */
export const NCSA_AUTH = "/usr/lib/squid/basic_ncsa_auth";
/** Whether that helper is there: the auth tests skip, saying so, when not. */
export const hasNcsaAuth = (() => {
  try {
    accessSync(NCSA_AUTH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

/** How a test's squid differs from the plain one (no auth, CONNECT to 443 only). */
export interface SquidOptions {
  /** Demand Basic credentials (407 without them), checked by `basic_ncsa_auth`. */
  auth?: { user: string; password: string };
  /** Ports CONNECT may tunnel to, besides 443 (see the config below). */
  connectPorts?: number[];
}

/** One running squid, owned by the test that started it: `stop()` it in `t.after`. */
export class Squid {
  private constructor(
    readonly port: number,
    readonly child: ChildProcess,
    readonly dir: string,
  ) {}

  /** `dir` must be a fresh temp folder. Resolves once squid accepts connections. */
  static async start(dir: string, options: SquidOptions = {}): Promise<Squid> {
    const port = await freePort();
    // As root, squid drops to `cache_effective_user`; it must be able to write its logs here.
    const root = process.getuid?.() === 0;
    if (root) await chmod(dir, 0o777);
    const lines = [
      `http_port 127.0.0.1:${port}`,
      `pid_filename ${join(dir, "squid.pid")}`,
      `cache_log ${join(dir, "cache.log")}`,
      `access_log stdio:${join(dir, "access.log")}`,
      "cache_store_log none",
      "netdb_filename none",
      "pinger_enable off",
      "icp_port 0",
      "cache deny all",
      "shutdown_lifetime 0 seconds",
      "visible_hostname resilient-sync-squid-test",
      // Squid refuses to run as root: as root it needs a user to become; as anyone else it stays.
      ...(root ? ["cache_effective_user nobody", "cache_effective_group nogroup"] : []),
      ...(options.auth ? await authLines(dir, options.auth) : []),
      // The stock squid.conf tunnels CONNECT only to 443 (`http_access deny CONNECT
      // !SSL_ports`), so that the proxy cannot be used to reach any port at all. The test's
      // https origin listens on a free port, so that port is added, as an admin would.
      `acl SSL_ports port 443 ${(options.connectPorts ?? []).join(" ")}`.trim(),
      "acl CONNECT method CONNECT",
      "acl test_clients src 127.0.0.1",
      "http_access deny CONNECT !SSL_ports",
      ...(options.auth ? ["http_access deny !authenticated"] : []),
      "http_access allow test_clients",
      "http_access deny all",
      "",
    ];
    const conf = join(dir, "squid.conf");
    await writeFile(conf, lines.join("\n"));
    const parse = spawnSync(SQUID, ["-k", "parse", "-f", conf], { encoding: "utf8" });
    if (parse.status !== 0) throw new Error(`squid refused its config: ${parse.stderr}`);
    // A service name of its own: squid names its shared-memory segments after it, and a second
    // squid on the machine (another test's, the system's) would hold `/squid-cf__metadata.shm`.
    const child = spawn(SQUID, ["-N", "-n", `rstest${port}`, "-f", conf], { stdio: "ignore" });
    const squid = new Squid(port, child, dir);
    // Bounded: 500 tries, each a connect attempt, about 10 ms apart (squid starts in ~100 ms).
    for (let i = 0; i < 500; i += 1) {
      if (child.exitCode !== null)
        throw new Error(`squid exited with ${child.exitCode}: ${await squid.cacheLog()}`);
      if (await accepting(port)) return squid;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill("SIGKILL");
    throw new Error(`squid did not start listening within 5 s: ${await squid.cacheLog()}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Squid's access log: one line per request it handled (a CONNECT says `CONNECT`). */
  async accessLog(): Promise<string> {
    return readFile(join(this.dir, "access.log"), "utf8").catch(() => "");
  }

  async cacheLog(): Promise<string> {
    return readFile(join(this.dir, "cache.log"), "utf8").catch(() => "");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    // shutdown_lifetime 0: squid closes its connections and exits at once on SIGTERM.
    const exited = once(this.child, "exit");
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** Squid's Basic auth over an htpasswd file (an apr1 hash made by openssl). */
async function authLines(dir: string, auth: { user: string; password: string }) {
  await access(NCSA_AUTH);
  const hash = execFileSync("openssl", ["passwd", "-apr1", "-stdin"], {
    input: auth.password,
    encoding: "utf8",
  }).trim();
  const passwords = join(dir, "htpasswd");
  await writeFile(passwords, `${auth.user}:${hash}\n`);
  // Read by the helper, which runs as squid's effective user.
  await chmod(passwords, 0o644);
  return [
    `auth_param basic program ${NCSA_AUTH} ${passwords}`,
    "auth_param basic children 1",
    "auth_param basic realm resilient-sync test",
    "acl authenticated proxy_auth REQUIRED",
  ];
}
