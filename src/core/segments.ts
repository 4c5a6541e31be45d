/**
 * When a download is split into segments, and where the cuts fall. Pure: no I/O.
 *
 * A download is split (`--split N`, N ≥ 2) only when all of these hold, so that every segment's
 * bytes can be proven to belong to one version of one file:
 * - the source can answer ranged requests (`Source.openRange`: http(s)) and the destination
 *   can write at offsets (`Destination.writesAtOffsets`: local files);
 * - the first answer is a 200 for the whole file, of a known size (`Content-Length`);
 * - it names its version with a strong validator (`canResumeWith`: a strong ETag or a
 *   Last-Modified date), which every ranged request repeats as `If-Range`;
 * - it says `Accept-Ranges: bytes` (a server that says nothing is fetched in one stream, as
 *   before: guessing would cost a failed request on every server that does not range);
 * - the file is at least two minimum segments long (`MIN_SEGMENT_BYTES`).
 */
import type { OpenResult } from "../sources/source.js";
import { canResumeWith } from "../sources/source.js";
import type { SegmentRecord } from "../state/store.js";
import type { AttemptContext } from "./attempt.js";

/**
 * The smallest segment: 8 MiB. Each segment costs a request, a round trip and a TCP slow start;
 * at the ~25 MiB/s one connection carries on a 100 ms path, 8 MiB is about three round trips of
 * data, so that cost stays small, while files of 16–40 MiB (which aria2c's 20 MiB
 * `--min-split-size` would cut into two at most) still gain. The file is split only from two
 * minimum segments up: 16 MiB.
 */
export const MIN_SEGMENT_BYTES = 8 * 1024 * 1024;

/** Segment boundaries fall on multiples of this (whole pages and filesystem blocks). */
const ALIGN_BYTES = 64 * 1024;

type Body = Extract<OpenResult, { kind: "body" }>;

/**
 * The segments of a fresh download of `total` bytes over at most `connections`, nothing done
 * yet; `undefined` when the file is too small to split (fewer than two minimum segments).
 * Segments are equal (to the alignment) and cover `[0, total)` without gaps or overlaps.
 */
export function planSegments(total: number, connections: number): SegmentRecord[] | undefined {
  const count = Math.min(Math.floor(connections), Math.floor(total / MIN_SEGMENT_BYTES));
  if (count < 2) return undefined;
  const step = Math.ceil(total / count / ALIGN_BYTES) * ALIGN_BYTES;
  const segments: SegmentRecord[] = [];
  for (let start = 0; start < total; start += step) {
    const end = Math.min(total, start + step);
    segments.push({ start, end, done: start });
  }
  return segments;
}

/** Whether a first answer allows splitting (see the module's comment); the size is `body.length`. */
export function rangesAllowed(body: Body): body is Body & { length: number } {
  return (
    body.offset === 0 &&
    body.length !== undefined &&
    body.acceptsRanges === true &&
    canResumeWith(body.validators)
  );
}

/**
 * Whether `segments` (from a state record) describe a part of `total` bytes: in order, covering
 * `[0, total)` exactly, each with `start ≤ done ≤ end`. A record that does not is refused.
 */
export function segmentsCover(segments: readonly SegmentRecord[], total: number): boolean {
  // A record is read from a file: anything may be in it.
  if (!Array.isArray(segments) || segments.length < 1) return false;
  let at = 0;
  for (const segment of segments as unknown[]) {
    if (typeof segment !== "object" || segment === null) return false;
    const { start, end, done } = segment as SegmentRecord;
    if (![start, end, done].every((n) => Number.isSafeInteger(n))) return false;
    if (start !== at || end <= start || done < start || done > end) return false;
    at = end;
  }
  return at === total;
}

/** Bytes already durable in the part, over all segments. */
export function bytesDone(segments: readonly SegmentRecord[]): number {
  return segments.reduce((sum, segment) => sum + (segment.done - segment.start), 0);
}

/** The segments a fresh download from the first answer `opened` is cut into; undefined: one stream. */
export function splitPlan(context: AttemptContext, opened: Body): SegmentRecord[] | undefined {
  const split = context.split;
  if (!split || split.refused || split.connections < 2) return undefined;
  if (!context.source.openRange || !context.parts.writesAtOffsets) return undefined;
  if (!rangesAllowed(opened)) return undefined;
  return planSegments(opened.length, split.connections);
}

/** Whether the kept part (fetched in segments) can be resumed in segments by this transfer. */
export function canResumeSplit(context: AttemptContext): boolean {
  return (
    context.split !== undefined &&
    context.source.openRange !== undefined &&
    context.parts.segments !== undefined &&
    context.parts.sink?.positional !== undefined
  );
}
