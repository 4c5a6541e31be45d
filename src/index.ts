/** resilient-sync's public API. */
export type { Clock } from "./clock.js";
export { systemClock } from "./clock.js";
export type { FailureCode } from "./errors.js";
export { EnvironmentError, SyncError, UsageError } from "./errors.js";
export type { EventFields, Level, LogEvent, Logger, Message } from "./log/events.js";
export type { ChecksumAlgorithm, SyncOptions } from "./options.js";
export type { ProgressEvent } from "./progress.js";
export type { Report, SourceResult, Status, Summary } from "./report.js";
export type { RunOptions } from "./sync.js";
export { sync } from "./sync.js";
