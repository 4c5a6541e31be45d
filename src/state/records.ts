/** Shape checks of the records a store reads back: what another process wrote is never trusted blindly. */
import { type CircuitState, circuitFromJSON } from "../policies/breaker.js";
import type { Marker } from "./store.js";

/** Whether a stored value has the shape of a `Marker` (a damaged or foreign record is ignored). */
export function isMarker(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.source === "string" &&
    typeof m.checksum === "string" &&
    typeof m.algorithm === "string" &&
    typeof m.destinationSize === "number" &&
    typeof m.destinationMtimeMs === "number" &&
    typeof m.destinationCtimeMs === "number" &&
    typeof m.destinationIno === "number" &&
    typeof m.validators === "object" &&
    m.validators !== null
  );
}

/** Whether a stored value has the shape of a `PartRecord`. */
export function isPartRecord(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const p = value as Record<string, unknown>;
  const file = p.file as Record<string, unknown> | null | undefined;
  return (
    typeof p.source === "string" &&
    typeof p.validators === "object" &&
    p.validators !== null &&
    typeof p.fence === "number" &&
    typeof p.holder === "string" &&
    typeof p.closed === "boolean" &&
    typeof file === "object" &&
    file !== null &&
    typeof file.name === "string" &&
    ["dev", "ino", "uid", "size"].every((k) => typeof file[k] === "number")
  );
}

/**
 * The marker's own fields, in a fresh object: a marker that was a lock file first
 * (`writeMarkerAndRelease`) also names the holder of a lease that has ended, which is no part of
 * the marker. Picked rather than deleted: every such marker read then has one shape.
 */
export function withoutHolder(m: Marker): Marker {
  if (!("token" in m)) return m;
  return {
    source: m.source,
    destination: m.destination,
    validators: m.validators,
    algorithm: m.algorithm,
    checksum: m.checksum,
    destinationSize: m.destinationSize,
    destinationMtimeMs: m.destinationMtimeMs,
    destinationCtimeMs: m.destinationCtimeMs,
    destinationIno: m.destinationIno,
    syncedAt: m.syncedAt,
  };
}

/**
 * A circuit record of the file store read for `origin`: its state, or `undefined` when it is not
 * one, or is another origin's (renamed to this one's file name in a lock dir others can write).
 */
export function circuitRecordOf(value: unknown, origin: string): CircuitState | undefined {
  return (value as { origin?: unknown } | null)?.origin === origin
    ? circuitFromJSON(value)
    : undefined;
}
