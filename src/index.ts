/** resilient-sync's public API: `sync()` for whole runs, `runJob()` for one pair against a runtime you build. */

export type { ChecksumAlgorithm } from "./checksums/digest.js";
export type { Cancel, Clock } from "./clock.js";
export { systemClock } from "./clock.js";
export { markerKey, runJob } from "./core/job.js";
export type { ProgressEvent } from "./core/progress.js";
export type { SourceResult, Status } from "./core/result.js";
export type { Runtime, SourceDrivers } from "./core/runtime.js";
export type { JobSource, JobSpec } from "./core/spec.js";
export type {
  Destination,
  DestinationDriver,
  Fingerprint,
  PartSink,
} from "./destinations/destination.js";
export type { FailureCode } from "./errors.js";
export { EnvironmentError, SyncError, UsageError } from "./errors.js";
export { Circuits } from "./health/circuits.js";
export { OriginGate } from "./health/origin-gate.js";
export { OriginHealth } from "./health/origin-health.js";
export type { EventFields, Level, LogEvent, Logger, Message } from "./log/events.js";
export type { SyncOptions } from "./options/normalize.js";
export type { Report, Summary } from "./run/report.js";
export type { RunOptions } from "./run/sync.js";
export { sync } from "./run/sync.js";
export { FsStateStore } from "./state/fs-store.js";
export { MemoryBacking, MemoryStateStore } from "./state/memory-store.js";
export type {
  AcquireOptions,
  Fence,
  Lease,
  Marker,
  PartRecord,
  Predecessor,
  StateStore,
} from "./state/store.js";
export { LeaseLostError, StaleFenceError } from "./state/store.js";
