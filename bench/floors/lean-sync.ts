/**
 * The floor of W2 and W3 in Node: a bench-only program that does per file only what
 * resilient-sync's promises oblige it to do, and nothing else — no plan, no retries, no logs, no
 * options, no checks beyond these. Whatever the tool spends above this program's time is its own
 * overhead; what this program spends is the price of the promises in Node on this machine.
 *
 *   node dist/bench/floors/lean-sync.js LIST OUT [WORKERS]
 *
 * LIST holds http:// URLs of one origin, one per line (the bench's nginx: `Content-Length` on
 * every answer, no redirects). Each URL goes to OUT/<last path segment>, over WORKERS (8)
 * keep-alive connections. Per file, as the tool does it:
 *
 * - marker there and naming this source and SHA-256, the destination matching it (size, mtime,
 *   ctime, inode), no lock and no part record left by a killed run: a conditional GET
 *   (`If-None-Match`, `If-Modified-Since`); a 304 ends the file: the no-op;
 * - otherwise: a lock file created `O_EXCL` beside the destination, naming its holder as the
 *   tool's do (pid, host, process start, pid namespace, instance, token, fence, time, pair) and
 *   seen to be the file at its path, with a renewal timer armed; the body hashed (SHA-256); a
 *   part created `O_EXCL`, written, given its mode, fsynced; the lock checked to be still ours
 *   (one descriptor: inode and bytes) and the part's name still a file, then the rename over the
 *   destination and an fsync of the folder (shared by the renames made meanwhile); then the lock
 *   checked again, rewritten as the marker, checked, and renamed into OUT/.locks.
 *
 * The file primitives are the tool's own (`createNew`, `holdsExactly`, `FolderSyncs`): what the
 * floor leaves out is the job pipeline around them. Not shipped, not a product: it trusts its
 * input and its one server, and exits 1 at the first surprise.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  writeSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { FolderSyncs } from "../../src/destinations/local/folder-syncs.js";
import { createNew, holdsExactly } from "../../src/fs/no-follow.js";

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** One keep-alive HTTP/1.1 connection that asks one thing at a time. */
class Connection {
  #socket: Socket;
  #received: Buffer = Buffer.alloc(0);
  #waiting?: { resolve(answer: Answer): void; reject(error: Error): void };

  constructor(host: string, port: number) {
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on("error", (error) => this.#waiting?.reject(error));
    this.#socket.on("close", () => this.#waiting?.reject(new Error("connection closed")));
  }

  get(host: string, path: string, extra: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    const end = this.#received.indexOf("\r\n\r\n");
    if (end < 0 || !this.#waiting) return;
    const lines = this.#received.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(lines[0]?.split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = status === 304 ? 0 : Number(headers.get("content-length"));
    if (this.#received.length < end + 4 + length) return;
    const body = this.#received.subarray(end + 4, end + 4 + length);
    this.#received = this.#received.subarray(end + 4 + length);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve({ status, headers, body });
  }
}

const fsyncInPool = (fd: number) =>
  new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

function readMarker(path: string): Record<string, string | number> | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** What a lock file says of its holder, as the tool writes it: enough for another run to judge it. */
const self = {
  pid: process.pid,
  host: hostname(),
  start: readFileSync("/proc/self/stat", "utf8").split(" ")[21] ?? null,
  pidns: readlinkSync("/proc/self/ns/pid"),
  instance: randomUUID(),
};
let sequence = 0;

/** The lease's renewal, as the tool arms one per lock (never due in a run this short). */
const renewal = () => setTimeout(() => {}, 10_000).unref();

async function syncOne(url: URL, out: string, connection: Connection, folders: FolderSyncs) {
  const name = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  const destination = join(out, name);
  const lock = join(out, `.${name}.lock`);
  const part = join(out, `.${name}.part`);
  const markerPath = join(out, ".locks", `${name}.json`);
  const partRecord = join(out, ".locks", `${name}.part.json`);
  const marker = readMarker(markerPath);
  const there = lstatSync(destination, { throwIfNoEntry: false, bigint: true });
  // A killed run's lock or part record: the leased way clears them, changed or not.
  const clean =
    !lstatSync(lock, { throwIfNoEntry: false }) &&
    !lstatSync(partRecord, { throwIfNoEntry: false });
  let extra = "";
  if (
    marker &&
    clean &&
    there &&
    marker.source === url.href &&
    marker.algorithm === "sha256" &&
    String(there.size) === marker.size &&
    String(there.mtimeNs) === marker.mtimeNs &&
    String(there.ctimeNs) === marker.ctimeNs &&
    String(there.ino) === marker.ino
  )
    extra = `If-None-Match: ${marker.etag}\r\nIf-Modified-Since: ${marker.lastModified}\r\n`;
  // The tool takes its lease before a transfer; a conditional GET needs none.
  const held = extra ? undefined : takeLock(lock, url.href, destination);
  const answer = await connection.get(url.host, url.pathname, extra);
  if (answer.status === 304) return;
  if (answer.status !== 200) throw new Error(`${url}: HTTP ${answer.status}`);
  const { fd: lockFd, identity, owner, timer } = held ?? takeLock(lock, url.href, destination);
  const digest = createHash("sha256").update(answer.body).digest("hex");
  const partFd = createNew(part, 0o600);
  if (partFd === undefined) throw new Error(`${part}: already there`);
  writeSync(partFd, answer.body);
  fchmodSync(partFd, 0o644);
  await fsyncInPool(partFd);
  closeSync(partFd);
  // The commit: the lease still ours, the part still the file we wrote, then the rename.
  if (!holdsExactly(lock, identity, owner)) throw new Error(`${lock}: lock lost`);
  if (!lstatSync(part, { throwIfNoEntry: false })?.isFile()) throw new Error(`${part}: replaced`);
  renameSync(part, destination);
  const committed = lstatSync(destination, { bigint: true });
  await folders.after(out);
  // The lock becomes the marker: ours before it is rewritten, ours again before it is renamed.
  clearTimeout(timer);
  if (!holdsExactly(lock, identity, owner)) throw new Error(`${lock}: lock lost`);
  const record = Buffer.from(
    JSON.stringify({
      ...JSON.parse(owner.toString()),
      source: url.href,
      algorithm: "sha256",
      etag: answer.headers.get("etag"),
      lastModified: answer.headers.get("last-modified"),
      sha256: digest,
      size: String(committed.size),
      mtimeNs: String(committed.mtimeNs),
      ctimeNs: String(committed.ctimeNs),
      ino: String(committed.ino),
    }),
  );
  writeSync(lockFd, record, 0, record.length, 0);
  ftruncateSync(lockFd, record.length);
  if (!holdsExactly(lock, identity, record)) throw new Error(`${lock}: lock lost`);
  renameSync(lock, markerPath);
  closeSync(lockFd);
}

/** A lock file created beside the destination, naming its holder, seen to be the file at its path. */
function takeLock(path: string, source: string, destination: string) {
  const fd = createNew(path, 0o644);
  if (fd === undefined) throw new Error(`${path}: held by another run`);
  const owner = Buffer.from(
    JSON.stringify({
      ...self,
      token: randomUUID(),
      fence: Date.now() * 1000 + (sequence++ % 1000),
      created_at: new Date().toISOString(),
      source,
      destination,
    }),
  );
  writeSync(fd, owner);
  const identity = fstatSync(fd, { bigint: true });
  if (lstatSync(path, { bigint: true }).ino !== identity.ino)
    throw new Error(`${path}: taken over`);
  return { fd, identity, owner, timer: renewal() };
}

async function main(): Promise<void> {
  const [list, out, workers = "8"] = process.argv.slice(2);
  if (!list || !out) throw new Error("usage: lean-sync.js LIST OUT [WORKERS]");
  const urls = readFileSync(list, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => new URL(line.trim()));
  const origin = urls[0];
  if (!origin) return;
  mkdirSync(join(out, ".locks"), { recursive: true });
  const folders = new FolderSyncs();
  let next = 0;
  const worker = async () => {
    const connection = new Connection(origin.hostname, Number(origin.port || 80));
    try {
      for (let index = next++; index < urls.length; index = next++)
        await syncOne(urls[index] as URL, out, connection, folders);
    } finally {
      connection.close();
    }
  };
  await Promise.all(Array.from({ length: Number(workers) }, worker));
}

main().catch((error) => {
  process.stderr.write(`lean-sync: ${error instanceof Error ? error.message : error}\n`);
  process.exitCode = 1;
});
