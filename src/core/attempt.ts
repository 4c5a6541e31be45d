/**
 * One attempt at one transfer: open the source (conditionally, resuming the kept part when it
 * may be), stream the body into the part while hashing it in the same pass, check its length and
 * any digest the source states, make it durable. Verifying the user's checksum and committing
 * are the caller's next steps.
 */
import type { ChecksumAlgorithm, Hasher } from "../checksums/digest.js";
import type { PartSink } from "../destinations/destination.js";
import { SyncError } from "../errors.js";
import type { BandwidthLimit } from "../policies/bandwidth.js";
import { type OpenResult, type Source, sameVersion, type Validators } from "../sources/source.js";
import { Digests } from "./digests.js";
import { offloadHashing } from "./hash-placement.js";
import type { PartKeeper } from "./parts.js";
import { checkSpace, tooLarge, totalOf } from "./room.js";
import { bytesDone, canResumeSplit, splitPlan } from "./segments.js";
import type { SplitSettings } from "./split-settings.js";
import { streamInto } from "./stream.js";

export interface AttemptContext {
  source: Source;
  parts: PartKeeper;
  algorithm: ChecksumAlgorithm;
  signal: AbortSignal;
  /** Called as the attempt begins, with the offset it resumes from (0: from the start). */
  onAttempt?: (resumeFrom: number) => void;
  /** Called once the source has answered (a body or not-modified): the origin works. */
  onOpened?: () => void;
  /** Called as body bytes arrive: (bytes this chunk, bytes of the file so far, expected total). */
  onBytes?: (chunk: number, received: number, total: number | undefined) => void;
  /** Bytes free for the part (undefined: unknown); a body known to need more fails at once. */
  freeBytes?: () => Promise<number | undefined>;
  /** The source, for messages. */
  display?: string;
  /** `--max-filesize` in bytes: a body known to be larger fails at once, one growing past it as it does. */
  maxFileBytes?: number;
  /** `--limit-rate`: the run's shared bandwidth limit, charged as body bytes arrive. */
  limiter?: Pick<BandwidthLimit, "take">;
  /** The no-op check's answer when the source had changed: its body, for the first attempt to use. */
  handOver?: HandOver;
  /** `--split` and what a segmented attempt needs; absent: always one stream. */
  split?: SplitSettings;
}

/**
 * A body already opened (the fast path's conditional GET answered 200), waiting under the lease
 * for the first attempt: taken at most once, and given up (the connection closed) otherwise.
 */
export class HandOver {
  #body: Body | undefined;
  /** The marker's digest the check was made against: if another run committed since, it is stale. */
  readonly basis: string;
  constructor(body: Body, basis: string) {
    this.#body = body;
    this.basis = basis;
  }
  take(): Body | undefined {
    const body = this.#body;
    this.#body = undefined;
    return body;
  }
  discard(): void {
    const body = this.take();
    if (body) abandon(body.body);
  }
}

export type AttemptResult =
  | { kind: "not-modified" }
  | {
      kind: "fetched";
      /** Hex digest of the whole part. */
      checksum: string;
      size: number;
      /** Body bytes received in this attempt. */
      received: number;
      /** Where this attempt's body started (0, or the resumed offset). */
      resumedFrom: number;
      validators: Validators;
      /** The response headers whose stated digests the bytes matched. */
      verifiedBy: string[];
      /** The mode the source suggests for a new destination (a local file's own). */
      mode: number | undefined;
    };

type Body = Extract<OpenResult, { kind: "body" }>;
/** The kept part was fetched in segments and this transfer resumes it so. */
type KeptSegments = { kind: "segments"; total: number; done: number };

/** Runs one attempt. Throws `SyncError`; keeps the part for a resume unless it cannot be trusted. */
export async function attemptTransfer(
  context: AttemptContext,
  unchangedIf: Validators | undefined,
): Promise<AttemptResult> {
  const { parts } = context;
  let opened = await openResumable(context, unchangedIf);
  if (opened.kind === "segments") {
    try {
      await checkSpace(context, opened.total, opened.total - opened.done);
      // Loaded only for a segmented attempt: single-stream runs never pay for it.
      return await (await import("./segmented.js")).resumeSplit(context);
    } catch (error) {
      if (!(error instanceof SyncError && error.discardPartial)) throw error;
      // The source changed since the part was begun (its segments' part is gone): from zero.
      opened = await open(context, { offset: 0, resumeIf: undefined, unchangedIf });
    }
  }
  context.onOpened?.();
  if (opened.kind === "not-modified") {
    // A part kept for this very version (a killed --force run) can never be of use: the
    // destination already holds it, and another version would not resume from it.
    await parts.discard();
    return opened;
  }

  const plan = splitPlan(context, opened);
  try {
    await checkSpace(context, totalOf(opened), opened.length);
    if (plan && opened.length !== undefined)
      return await (await import("./segmented.js")).fetchSplit(
        context,
        { ...opened, length: opened.length },
        plan,
      );
  } catch (error) {
    abandon(opened.body);
    if (context.signal.aborted) throw context.signal.reason;
    throw error;
  }
  // Digests the source states in another algorithm are computed in the same pass.
  const digests = new Digests(
    context.algorithm,
    opened.stated,
    offloadHashing(context.algorithm, opened),
  );
  try {
    return await streamAndVerify(context, opened, digests);
  } finally {
    digests.close();
  }
}

/** Streams the body into its part, hashing it with `digests`, and checks its length and digests. */
async function streamAndVerify(
  context: AttemptContext,
  opened: Body,
  digests: Digests,
): Promise<AttemptResult> {
  const { parts } = context;
  const hashes = digests.hashes;
  let sink: PartSink;
  try {
    sink = await sinkFor(context, opened, hashes);
  } catch (error) {
    abandon(opened.body);
    if (context.signal.aborted) throw context.signal.reason;
    throw error;
  }
  let received: number;
  try {
    received = await streamInto(
      { ...context, tooBig: (bytes: number) => tooLarge(context, bytes) },
      sink,
      hashes,
      opened,
      digests.worker,
    );
  } catch (error) {
    // After a failed write the part's end is not to be trusted for a resume, nor after a body
    // whose bytes cannot be (an answer with broken framing): start over.
    if (error instanceof SyncError && (error.code === "write_error" || error.discardPartial))
      await parts.discard();
    else await parts.keep();
    throw error;
  }

  const size = opened.offset + received;
  const total = totalOf(opened);
  if (
    (opened.length !== undefined && received !== opened.length) ||
    (total !== undefined && size !== total)
  ) {
    await parts.keep();
    throw new SyncError("network", `short body: have ${size} of ${total ?? "?"} bytes`, {
      retryable: true,
    });
  }

  let verified: Awaited<ReturnType<Digests["verify"]>>;
  try {
    verified = await digests.verify();
  } catch (error) {
    // Corrupted in transit (or a server that lies): these bytes must not be kept or resumed.
    // (A failed hash worker: they may be fine, but starting over is what is sure.)
    await parts.discard();
    throw error;
  }
  return {
    kind: "fetched",
    checksum: verified.checksum,
    size,
    received,
    resumedFrom: opened.offset,
    validators: opened.validators,
    verifiedBy: verified.verifiedBy,
    mode: opened.mode,
  };
}

/**
 * Opens the source, asking for the rest of the kept part when there is one that may be resumed.
 * When the answer rules the resume out (a 416, a mismatched Content-Range, a changed validator),
 * the part is dropped and the source opened again from zero within the same attempt.
 */
async function openResumable(
  context: AttemptContext,
  unchangedIf: Validators | undefined,
): Promise<Body | { kind: "not-modified" } | KeptSegments> {
  let kept = await context.parts.reopen();
  const resumeIf = context.parts.validators;
  // A body from the no-op check serves a transfer from zero (and was logged as its attempt).
  const handed = context.handOver?.take();
  if (handed && (!kept || !resumeIf)) return handed;
  if (handed) abandon(handed.body); // a kept part to resume: ask for the rest instead
  const segments = kept && context.parts.segments;
  if (segments && canResumeSplit(context)) {
    const done = bytesDone(segments);
    context.onAttempt?.(done);
    return { kind: "segments", total: (segments.at(-1) as { end: number }).end, done };
  }
  if (segments) {
    // Fetched in segments, but this transfer cannot resume it so: from zero.
    await context.parts.discard();
    kept = undefined;
  }
  context.onAttempt?.(kept?.offset ?? 0);
  if (!kept || !resumeIf) return open(context, { offset: 0, resumeIf: undefined, unchangedIf });
  try {
    const opened = await open(context, { offset: kept.offset, resumeIf, unchangedIf });
    if (opened.kind === "body" && opened.offset > 0 && !sameVersion(resumeIf, opened.validators)) {
      abandon(opened.body);
      throw new SyncError("http_error", "the source changed since the partial download", {
        retryable: true,
        discardPartial: true,
      });
    }
    return opened;
  } catch (error) {
    if (!(error instanceof SyncError && error.discardPartial)) throw error;
    await context.parts.discard();
    return open(context, { offset: 0, resumeIf: undefined, unchangedIf });
  }
}

async function open(
  context: AttemptContext,
  request: {
    offset: number;
    resumeIf: Validators | undefined;
    unchangedIf: Validators | undefined;
  },
): Promise<Body | { kind: "not-modified" }> {
  try {
    return await context.source.open({ ...request, signal: context.signal });
  } catch (error) {
    throw context.source.describeError(error);
  }
}

/**
 * The part this body goes into. Continuing the kept part: hash its bytes first (through its own
 * descriptor) and mark it as being written. Otherwise (from zero, or a server that ignored the
 * range): a new part, recorded before any byte lands in it.
 */
async function sinkFor(context: AttemptContext, opened: Body, hashes: Hasher[]): Promise<PartSink> {
  const { parts } = context;
  const kept = parts.sink;
  if (kept && opened.offset > 0 && opened.offset === kept.offset) {
    await kept.hashKept(hashes, context.signal);
    await parts.markWriting();
    return kept;
  }
  return parts.create(opened.validators, opened.length);
}

/** Stops reading a body we no longer want; its late "aborted" error is expected, not a crash. */
export function abandon(body: Body["body"]): void {
  body.on("error", () => {});
  body.destroy();
}
