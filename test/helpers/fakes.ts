/**
 * Fakes for the core's unit tests: a scripted source, a destination in memory, a recording
 * logger, and a runtime built from them on the memory store and a fake clock.
 */
import { createHash, type Hash } from "node:crypto";
import { type PassThrough, Readable } from "node:stream";
import type { Runtime } from "../../src/core/runtime.js";
import type {
  Destination,
  DestinationDriver,
  Fingerprint,
  LeaseCheck,
  PartSink,
  ResumeCandidate,
} from "../../src/destinations/destination.js";
import { SyncError } from "../../src/errors.js";
import { Circuits } from "../../src/health/circuits.js";
import { OriginGate } from "../../src/health/origin-gate.js";
import { OriginHealth } from "../../src/health/origin-health.js";
import type { LogEvent, Logger } from "../../src/log/events.js";
import type { OpenRequest, OpenResult, Source, Validators } from "../../src/sources/source.js";
import type { PartFile, StateStore } from "../../src/state/store.js";
import type { FakeClock } from "./fake-clock.js";

export function recordingLogger(): Logger & { events: LogEvent[]; messages(): string[] } {
  const events: LogEvent[] = [];
  return {
    events,
    emit: (level, message, fields) => events.push({ level, message, fields } as LogEvent),
    messages: () => events.map((event) => event.message),
  };
}

/** What a fake source does on each open, in turn; then it serves normally. */
export type SourceStep = "fail" | "not-found" | { hold: PassThrough };

/** A source serving `body` under an ETag, following a script of faults. */
export class FakeSource implements Source {
  body: Buffer;
  etag: string;
  readonly script: SourceStep[];
  readonly opens: OpenRequest[] = [];

  constructor(body: Buffer, script: SourceStep[] = []) {
    this.body = body;
    this.etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
    this.script = script;
  }

  async open(request: OpenRequest): Promise<OpenResult> {
    this.opens.push(request);
    const step = this.script.shift();
    if (step === "fail") throw new SyncError("network", "connection reset", { retryable: true });
    if (step === "not-found") throw new SyncError("not_found", "404 Not Found", { status: 404 });
    const validators: Validators = { etag: this.etag, size: this.body.length };
    if (request.unchangedIf?.etag === this.etag) return { kind: "not-modified" };
    const offset = request.resumeIf?.etag === this.etag ? request.offset : 0;
    const rest = this.body.subarray(offset);
    const body = step && typeof step === "object" ? step.hold : Readable.from([rest]);
    return { kind: "body", body, offset, length: rest.length, validators, stated: [] };
  }

  async check(unchangedIf: Validators | undefined): Promise<"unchanged" | "changed"> {
    return unchangedIf?.etag === this.etag ? "unchanged" : "changed";
  }

  describeError(error: unknown): SyncError {
    return error instanceof SyncError
      ? error
      : new SyncError("network", String(error), { retryable: true });
  }
}

interface Stored {
  data: Buffer;
  fingerprint: Fingerprint;
}

/** Destinations in memory: what a commit put where, and every part ever opened. */
export class MemoryDestinations implements DestinationDriver {
  readonly files = new Map<string, Stored>();
  /** Every part opened, in order. */
  readonly parts: MemoryPart[] = [];
  commits = 0;
  #ino = 1;

  async open(path: string): Promise<Destination> {
    const files = this.files;
    const nextIno = () => {
      this.#ino += 1;
      return this.#ino;
    };
    const onCommit = () => {
      this.commits += 1;
    };
    return {
      path,
      id: `memory://${path}`,
      fingerprint: async () => files.get(path)?.fingerprint,
      prepare: async () => {},
      openPart: async (_resume: ResumeCandidate | undefined) => {
        const part = new MemoryPart(nextIno());
        this.parts.push(part);
        return part;
      },
      discardKept: async (_file: PartFile) => {},
      commit: async (part: PartSink, lease: LeaseCheck) => {
        await lease.check();
        const data = (part as MemoryPart).data();
        const fingerprint = {
          size: data.length,
          mtimeMs: 1000 + files.size,
          ctimeMs: 1000 + files.size,
          ino: nextIno(),
        };
        files.set(path, { data, fingerprint });
        onCommit();
        return fingerprint;
      },
      checksum: async (algorithm) => {
        const stored = files.get(path);
        return stored ? createHash(algorithm).update(stored.data).digest("hex") : null;
      },
    };
  }
}

export class MemoryPart implements PartSink {
  readonly offset = 0;
  readonly #chunks: Buffer[] = [];
  readonly #ino: number;

  constructor(ino: number) {
    this.#ino = ino;
  }

  data(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  file(): PartFile {
    return { name: `part-${this.#ino}`, dev: 1, ino: this.#ino, uid: 0, size: this.data().length };
  }

  async hashKept(_hashes: Hash[]): Promise<void> {}

  push(chunk: Uint8Array): undefined {
    this.#chunks.push(Buffer.from(chunk));
    return undefined;
  }

  async finish(): Promise<void> {}
  /** What `abandon` resolves to: `false` plays a part whose writes or flushes failed. */
  resumable = true;
  async abandon(): Promise<boolean> {
    return this.resumable;
  }
  async discard(): Promise<void> {
    this.#chunks.length = 0;
  }
}

/** A runtime of fakes: `source` for every spec, destinations in memory, `store` on `clock`. */
export function fakeRuntime(parts: {
  store: StateStore;
  clock: FakeClock;
  source: Source;
  destinations?: MemoryDestinations;
  logger?: Logger;
}): Runtime & { destinations: MemoryDestinations } {
  const logger = parts.logger ?? recordingLogger();
  const circuits = new Circuits(parts.store, parts.clock, logger, { ttlMs: 300_000, threshold: 1 });
  return {
    clock: parts.clock,
    logger,
    random: () => 0.5,
    store: parts.store,
    health: new OriginHealth(new OriginGate(), circuits),
    sources: { open: () => parts.source },
    destinations: parts.destinations ?? new MemoryDestinations(),
    leaseTtlMs: 5000,
  };
}
