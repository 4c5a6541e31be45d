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
 * - marker there and the destination matches it (size, mtime, inode), no lock and no part beside
 *   it: a conditional GET (`If-None-Match`, `If-Modified-Since`); a 304 ends the file: the no-op;
 * - otherwise: a lock file created `O_EXCL` beside the destination naming its holder, the body
 *   received and hashed (SHA-256), a part created `O_EXCL`, written, given its mode, fsynced,
 *   renamed over the destination once the lock is seen to be still ours (its path leads to our
 *   inode holding our token: the fence); the lock file rewritten as the marker and, ours still,
 *   renamed into OUT/.locks; then an fsync of the folder (shared by the renames made meanwhile)
 *   before the file counts as done.
 *
 * Not shipped, not a product: it trusts its input and its one server, and exits 1 at the first
 * surprise.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY, O_RDONLY, O_DIRECTORY, O_NONBLOCK, O_NOCTTY } =
  constants;
const CREATE_NEW = O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY;

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

/** Folder fsyncs shared by the renames made while one is in flight, as the tool shares them. */
class FolderSync {
  #running?: Promise<void>;
  #next?: Promise<void>;

  constructor(private readonly folder: string) {}

  /** Resolves once an fsync of the folder that began after this call has finished. */
  after(): Promise<void> {
    if (!this.#running) return this.#start();
    this.#next ??= this.#running.then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  #start(): Promise<void> {
    const fd = openSync(this.folder, O_RDONLY | O_DIRECTORY);
    this.#running = new Promise<void>((resolve, reject) =>
      fsync(fd, (error) => (error ? reject(error) : resolve())),
    ).finally(() => {
      closeSync(fd);
      this.#running = undefined;
    });
    return this.#running;
  }
}

const fsyncInPool = (fd: number) =>
  new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

/** The lock at `path` is still the one we hold: our inode, our bytes (one descriptor, as the tool checks). */
function stillOurs(path: string, ino: bigint, text: Buffer): boolean {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  try {
    const held = fstatSync(fd, { bigint: true });
    if (held.ino !== ino || held.size !== BigInt(text.length)) return false;
    const bytes = Buffer.alloc(text.length);
    return readSync(fd, bytes, 0, bytes.length, 0) === bytes.length && bytes.equals(text);
  } finally {
    closeSync(fd);
  }
}

function readMarker(path: string): Record<string, string | number> | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function syncOne(url: URL, out: string, connection: Connection, folder: FolderSync) {
  const name = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  const destination = join(out, name);
  const lock = join(out, `.${name}.lock`);
  const part = join(out, `.${name}.part`);
  const markerPath = join(out, ".locks", `${name}.json`);
  const marker = readMarker(markerPath);
  const there = lstatSync(destination, { throwIfNoEntry: false, bigint: true });
  const clean =
    !lstatSync(lock, { throwIfNoEntry: false }) && !lstatSync(part, { throwIfNoEntry: false });
  let extra = "";
  if (
    marker &&
    clean &&
    there &&
    String(there.size) === marker.size &&
    String(there.mtimeNs) === marker.mtimeNs &&
    String(there.ino) === marker.ino
  )
    extra = `If-None-Match: ${marker.etag}\r\nIf-Modified-Since: ${marker.lastModified}\r\n`;
  const owner = Buffer.from(JSON.stringify({ pid: process.pid, token: randomUUID() }));
  // The tool takes its lease before a transfer; a conditional GET needs none.
  const lockFd = extra ? undefined : openSync(lock, CREATE_NEW, 0o644);
  if (lockFd !== undefined) writeSync(lockFd, owner);
  const answer = await connection.get(url.host, url.pathname, extra);
  if (answer.status === 304) return;
  if (answer.status !== 200) throw new Error(`${url}: HTTP ${answer.status}`);
  const heldFd = lockFd ?? openSync(lock, CREATE_NEW, 0o644);
  if (lockFd === undefined) writeSync(heldFd, owner);
  const digest = createHash("sha256").update(answer.body).digest("hex");
  const partFd = openSync(part, CREATE_NEW, 0o600);
  writeSync(partFd, answer.body);
  fchmodSync(partFd, 0o644);
  await fsyncInPool(partFd);
  closeSync(partFd);
  const lockIno = fstatSync(heldFd, { bigint: true }).ino;
  if (!stillOurs(lock, lockIno, owner)) throw new Error(`${lock}: lock lost`);
  renameSync(part, destination);
  const committed = lstatSync(destination, { bigint: true });
  const record = Buffer.from(
    JSON.stringify({
      owner: owner.toString(),
      etag: answer.headers.get("etag"),
      lastModified: answer.headers.get("last-modified"),
      sha256: digest,
      size: String(committed.size),
      mtimeNs: String(committed.mtimeNs),
      ino: String(committed.ino),
    }),
  );
  writeSync(heldFd, record, 0, record.length, 0);
  ftruncateSync(heldFd, record.length);
  closeSync(heldFd);
  if (!stillOurs(lock, lockIno, record)) throw new Error(`${lock}: lock lost`);
  renameSync(lock, markerPath);
  await folder.after();
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
  const folder = new FolderSync(out);
  let next = 0;
  const worker = async () => {
    const connection = new Connection(origin.hostname, Number(origin.port || 80));
    try {
      for (let index = next++; index < urls.length; index = next++)
        await syncOne(urls[index] as URL, out, connection, folder);
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
