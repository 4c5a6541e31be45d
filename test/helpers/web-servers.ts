/**
 * Real web servers with directory listings, started by a test on 127.0.0.1 with a config in a
 * temp dir: Apache (mod_autoindex), lighttpd (mod_dirlisting) and python's `http.server` (nginx
 * is `bench/lib/nginx.ts`). Each waits until it answers, never on a fixed sleep, and `skipReason`
 * says why a test must be skipped when the binary is missing.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "./proxy.js";

/** A started server: URLs on it, and how to stop it (its temp dir removed). */
export interface WebServer {
  url(path: string): string;
  stop(): Promise<void>;
}

/** The first of `paths` that runs with `versionFlag`, if any. */
export function findBinary(paths: string[], versionFlag: string): string | undefined {
  return paths.find((path) => spawnSync(path, [versionFlag]).status === 0);
}

/** Debian's layout: the config below loads its modules from there. */
const APACHE_MODULES = "/usr/lib/apache2/modules";
/** The binaries found on this machine (undefined: the tests that need one skip, saying so). */
export const APACHE = existsSync(`${APACHE_MODULES}/mod_autoindex.so`)
  ? findBinary(["/usr/sbin/apache2"], "-v")
  : undefined;
export const LIGHTTPD = findBinary(["/usr/sbin/lighttpd", "/usr/bin/lighttpd"], "-v");
export const PYTHON = findBinary(["python3"], "--version");
export const NGINX = findBinary(["/usr/sbin/nginx", "/usr/bin/nginx"], "-v");

/** Why a test needing `binary` is skipped, or `false` when it can run. */
export function skipReason(binary: string | undefined, name: string, apt: string): string | false {
  return binary ? false : `${name} is not installed (apt-get install ${apt}; .ci/run does)`;
}

/** Waits (at most 10 s, polling every 50 ms) until `url` answers, or the child has exited. */
async function untilAnswering(child: ChildProcess, url: string, name: string): Promise<void> {
  const giveUpAt = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(url).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (child.exitCode !== null) throw new Error(`${name} exited at start (${child.exitCode})`);
    if (Date.now() > giveUpAt) throw new Error(`${name} did not answer within 10 s`);
    await delay(50);
  }
}

function stopper(child: ChildProcess, dir?: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
}

/** Apache httpd serving `root` with `Options Indexes` (FancyIndexing: its `?C=N;O=D` sort links). */
export async function startApache(binary: string, root: string): Promise<WebServer> {
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-apache-"));
  const port = await freePort();
  const load = ["mpm_event", "authz_core", "dir", "mime", "autoindex"]
    .map((name) => `LoadModule ${name}_module ${APACHE_MODULES}/mod_${name}.so`)
    .join("\n");
  // As root, Apache serves as `nobody`; as anyone else it stays who it is.
  const user = process.getuid?.() === 0 ? "User #65534\nGroup #65534" : "";
  await writeFile(
    join(dir, "httpd.conf"),
    `ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
${load}
TypesConfig /etc/mime.types
DocumentRoot "${root}"
<Directory "${root}">
  Options Indexes FollowSymLinks
  Require all granted
</Directory>
IndexOptions FancyIndexing
${user}
`,
  );
  const child = spawn(binary, ["-f", join(dir, "httpd.conf"), "-DFOREGROUND"], {
    stdio: "ignore",
  });
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  await untilAnswering(child, url("/"), "apache");
  return { url, stop: stopper(child, dir) };
}

/** lighttpd serving `root` with `dir-listing.activate`. */
export async function startLighttpd(binary: string, root: string): Promise<WebServer> {
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-lighttpd-"));
  const port = await freePort();
  await writeFile(
    join(dir, "lighttpd.conf"),
    `server.document-root = "${root}"
server.bind = "127.0.0.1"
server.port = ${port}
server.errorlog = "${dir}/error.log"
server.modules += ( "mod_dirlisting" )
dir-listing.activate = "enable"
mimetype.assign = ( ".html" => "text/html", "" => "application/octet-stream" )
`,
  );
  const child = spawn(binary, ["-D", "-f", join(dir, "lighttpd.conf")], { stdio: "ignore" });
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  await untilAnswering(child, url("/"), "lighttpd");
  return { url, stop: stopper(child, dir) };
}

/**
 * `python3 -m http.server 0` serving `root`: it picks a free port itself and says which on its
 * first line, which is waited for (no port race, no sleep). `args`: more of its options
 * (`--protocol HTTP/1.1` for keep-alive, `--cgi`).
 */
export async function startPythonServer(
  binary: string,
  root: string,
  args: string[] = [],
): Promise<WebServer> {
  const child = spawn(
    binary,
    ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root, ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python did not start: ${output}`)), 10_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /port (\d+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    };
    child.stdout?.on("data", read);
    child.stderr?.on("data", read);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`python exited at start (${code}): ${output}`));
    });
  });
  // Its request log goes to stderr: keep reading so that a full pipe never blocks it.
  child.stderr?.resume();
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  return { url, stop: stopper(child) };
}
