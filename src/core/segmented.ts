/**
 * A segmented attempt (`--split N`), loaded only when one is made: the file's bytes fetched over several connections at once,
 * each segment written in order from its own start, hashed in one pass as the file's prefix
 * grows, its progress made durable and recorded about once a second, and the part fsynced
 * before the commit like any other. When a download is split, and where: `segments.ts`. How the
 * connections behave on failure: `segment-pool.ts`. The design and its reasons:
 * docs/segmented-download.md.
 */
import type { Readable } from "node:stream";
import type { PositionalPart } from "../destinations/destination.js";
import { SyncError, writeError } from "../errors.js";
import {
  carriesVersion,
  type OpenResult,
  type StatedDigest,
  type Validators,
} from "../sources/source.js";
import type { SegmentRecord } from "../state/store.js";
import type { AttemptContext, AttemptResult } from "./attempt.js";
import { Checkpoints } from "./checkpoints.js";
import { Digests } from "./digests.js";
import { PrefixHasher } from "./prefix-hash.js";
import { runSegments } from "./segment-pool.js";
import { type SegmentState, streamSegment } from "./segment-stream.js";
import { bytesDone } from "./segments.js";
import type { SplitSettings } from "./split-settings.js";

type Body = Extract<OpenResult, { kind: "body" }>;
type Fetched = Extract<AttemptResult, { kind: "fetched" }>;

/**
 * A fresh segmented download: a new part of the first answer's size, recorded with its
 * segments, then every segment fetched; the first answer's body serves segment 0 and is cut at
 * its end. Throws like an attempt; a changed source is `discardPartial` (the part is gone).
 */
export async function fetchSplit(
  context: AttemptContext,
  opened: Body & { length: number },
  plan: SegmentRecord[],
): Promise<Fetched> {
  let part: PositionalPart;
  try {
    part = await context.parts.createSegmented(opened.validators, opened.length, plan);
  } catch (error) {
    opened.body.on("error", () => {});
    opened.body.destroy();
    throw error;
  }
  return fetchSegments(context, part, {
    segments: plan,
    total: opened.length,
    version: opened.validators,
    fresh: true,
    lead: opened.body,
    stated: opened.stated,
    mode: opened.mode,
  });
}

/** Resumes the kept part (`canResumeSplit`): each segment from what its record says is durable. */
export async function resumeSplit(context: AttemptContext): Promise<Fetched> {
  const { parts } = context;
  const segments = parts.segments as SegmentRecord[];
  const part = parts.sink?.positional?.() as PositionalPart;
  await parts.markWriting();
  return fetchSegments(context, part, {
    segments,
    total: (segments.at(-1) as SegmentRecord).end,
    version: parts.validators as Validators,
    fresh: false,
    lead: undefined,
    // Digests the source states come with the first answer (Repr-Digest only: ranges are parts).
    stated: undefined,
    mode: undefined,
  });
}

interface Job {
  segments: readonly SegmentRecord[];
  total: number;
  /** The version every segment must belong to. */
  version: Validators;
  /** Whether `version` is what the source said in this transfer (not a kept part's record). */
  fresh: boolean;
  lead: Readable | undefined;
  stated: StatedDigest[] | undefined;
  mode: number | undefined;
}

async function fetchSegments(
  context: AttemptContext,
  part: PositionalPart,
  job: Job,
): Promise<Fetched> {
  const split = context.split as SplitSettings;
  const { total, version } = job;
  const kept = bytesDone(job.segments);
  let have = kept;
  let digests: Digests | undefined;
  let hasher: PrefixHasher | undefined;
  const states: SegmentState[] = job.segments.map((record, index) => {
    const state: SegmentState = {
      index,
      start: record.start,
      end: record.end,
      pushed: record.done,
      written: record.done,
      recorded: record.done,
      writer: part.writerAt(record.done, (end) => {
        state.written = end;
        hasher?.poke();
      }),
    };
    return state;
  });
  const readableEnd = (position: number) => {
    const state = states.find((s) => s.start <= position && position < s.end);
    return state && state.written > position ? state.written : position;
  };
  // The hashes start once the digests the source states are known (the first answer).
  const startHashing = (stated: StatedDigest[]) => {
    if (hasher) return;
    digests = new Digests(context.algorithm, stated);
    hasher = new PrefixHasher(digests.hashes, total, {
      read: (buffer, length, position) => part.read(buffer, length, position),
      readableEnd,
    });
    hasher.poke(); // a resumed part's kept bytes
  };
  if (job.stated) startHashing(job.stated);

  const waiting = states.filter((state) => state.pushed < state.end);
  split.logger.emit("info", "segmented download", {
    ...split.names,
    size: total,
    segments: states.length,
    connections: Math.min(split.connections, waiting.length),
    resumed_bytes: kept,
  });
  const failed = new AbortController();
  const signal = AbortSignal.any([context.signal, failed.signal]);
  const checkpoints = new Checkpoints(states, part, context.parts, split, (error) =>
    failed.abort(error),
  );
  const stopCheckpoints = split.every(split.checkpointMs, () => checkpoints.run());

  // Another version answered a segment. Against a kept part's record, the source changed since:
  // start over, split as before. Against what the source said moments ago, it changed mid-way or
  // a load balancer's backends name the same file differently: the part is dropped all the same,
  // and the rest of this transfer goes in one stream, which needs one version only.
  const changed = () => {
    if (job.fresh) split.refused = true;
    return new SyncError("http_error", "the source changed during the segmented download", {
      retryable: true,
      discardPartial: true,
    });
  };
  try {
    const lead = job.lead && states[0] ? { state: states[0], body: job.lead } : undefined;
    await runSegments(
      waiting,
      {
        connections: split.connections,
        retries: split.maxAttempts > 1,
        signal,
        open: async (state, requestSignal) => {
          await split.startSlot(requestSignal);
          const answer = await openRange(context, {
            start: state.pushed,
            end: state.end,
            version,
            signal: requestSignal,
          }).catch((error: unknown) => {
            // A 416, or a 206 of another span than asked (a server capping its ranges): this
            // server does not serve the spans asked for, so the next attempt takes one stream
            // rather than splitting again into the same answer until the retries run out. Not
            // when this request was stopped: that is another segment's failure, passed on.
            if (error instanceof SyncError && error.discardPartial && !requestSignal.aborted)
              split.refused = true;
            throw error;
          });
          context.onOpened?.();
          if (answer.kind === "whole") {
            if (!carriesVersion(version, answer.validators)) throw changed();
            // It said Accept-Ranges, then answered a range with the whole file: this transfer
            // goes on in one stream.
            split.refused = true;
            throw new SyncError("http_error", "the server answered a range with the whole file", {
              retryable: true,
              discardPartial: true,
            });
          }
          if (!carriesVersion(version, answer.validators) || (answer.total ?? total) !== total) {
            answer.body.on("error", () => {});
            answer.body.destroy();
            throw changed();
          }
          split.accepted();
          startHashing(answer.stated);
          return answer.body;
        },
        stream: (body, state, streamSignal, lead) =>
          streamSegment(
            body,
            state,
            {
              source: context.source,
              signal: streamSignal,
              offer: (position, chunk) => hasher?.offer(position, chunk),
              onChunk: (bytes) => {
                have += bytes;
                context.onBytes?.(bytes, have, total);
              },
              // Every segment draws on the run's one --limit-rate bucket.
              ...(context.limiter ? { limiter: context.limiter } : {}),
            },
            lead,
          ).catch((error: unknown) => {
            // A range whose framing was broken (its bytes untrustworthy): this server's ranges
            // are not to be stitched, so the next attempt takes one stream.
            if (error instanceof SyncError && error.discardPartial && !streamSignal.aborted)
              split.refused = true;
            throw error;
          }),
        retryDelayMs: split.retryDelayMs,
        sleep: split.sleep,
        throttled: (failure) => split.throttled(failure.retryAfterMs),
        failed: (state, failure, delayMs) =>
          split.logger.emit("warning", "segment failed", {
            ...split.names,
            segment: state.index,
            offset: state.pushed,
            end: state.end,
            error_code: failure.code,
            reason: failure.message,
            retryable: failure.retryable,
            delay_ms: delayMs,
            ...(failure.status === undefined ? {} : { status: failure.status }),
          }),
      },
      lead,
    );
    stopCheckpoints();
    await checkpoints.idle();
    // Written, not yet fsynced: the commit's one fsync (after the final mode) makes it durable.
    for (const state of states) await state.writer.flush();
    startHashing([]); // every segment was already complete: no answer came
    await (hasher as PrefixHasher).finish(context.signal).catch((error: unknown) => {
      if (context.signal.aborted) throw context.signal.reason;
      throw writeError("read back", "the part file", error);
    });
    const { checksum, verifiedBy } = await (digests as Digests).verify();
    return {
      kind: "fetched",
      checksum,
      size: total,
      received: have - kept,
      resumedFrom: kept,
      validators: version,
      verifiedBy,
      mode: job.mode,
    };
  } catch (error) {
    stopCheckpoints();
    await Promise.all(states.map((state) => state.writer.abandon()));
    const failure = error instanceof SyncError ? error : undefined;
    const untrusted =
      failure?.discardPartial ||
      failure?.code === "write_error" ||
      failure?.code === "checksum_mismatch";
    await checkpoints.idle();
    // Otherwise what arrived is written: made durable and recorded, so the next attempt (or run)
    // resumes every segment from where it stopped — unless that fdatasync, or an earlier one,
    // failed (`diskFailed`: the kernel would not say so twice).
    if (!untrusted) await checkpoints.run();
    if (untrusted || checkpoints.diskFailed) await context.parts.discard();
    else await context.parts.keep();
    throw error;
  }
}

async function openRange(
  context: AttemptContext,
  request: Parameters<NonNullable<AttemptContext["source"]["openRange"]>>[0],
) {
  const openRange = context.source.openRange?.bind(context.source);
  if (!openRange) throw new TypeError("the source cannot answer ranges");
  try {
    return await openRange(request);
  } catch (error) {
    throw context.source.describeError(error);
  }
}
