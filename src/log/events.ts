/**
 * Typed log events: every message the tool emits, with the fields it carries. Messages marked
 * "stable" keep their wording (README, "Logs"): scripts grep them.
 */

export type Level = "debug" | "info" | "warning" | "error";

export const LEVELS: readonly Level[] = ["debug", "info", "warning", "error"];

interface SourceFields {
  source: string;
  destination: string;
}

export interface FailureFields {
  error_code: string;
  reason: string;
  status?: number;
}

export interface EventFields {
  /** stable */
  "validated environment": {
    node: string;
    /** The local state's folder (absent with `--state redis://…`). */
    lock_dir?: string;
    /** A shared state store, as `redis://host:port/db` (never its password); absent: local. */
    state?: string;
    platform: string;
  };
  /** stable */
  "attempting download": SourceFields & {
    attempt: number;
    max_attempts: number;
    resume_from: number;
  };
  /** stable */
  "download successful": SourceFields & {
    attempt: number;
    bytes: number;
    duration_ms: number;
    resumed_from: number;
    /** Response headers whose digests the body matched (`repr-digest`, `content-md5` …). */
    verified_by: string[];
  };
  /** stable */
  "download failed": SourceFields & FailureFields & { attempt: number; retryable: boolean };
  /** stable */
  "sleeping before retry": SourceFields & {
    attempt: number;
    next_attempt: number;
    delay_ms: number;
    retry_after_ms: number | null;
  };
  /** stable */
  "exhausted retries": SourceFields & FailureFields & { attempts: number };
  /** stable */
  "circuit breaker open": {
    source: string;
    origin: string;
    seconds_until_retry: number;
    consecutive_failures: number;
  };
  /** stable */
  "circuit breaker reset": { source: string; origin: string };
  /** stable */
  "another synchronization is in progress": SourceFields & { lock: string };
  /** stable */
  "destination already up-to-date": SourceFields & { checksum: string | null; reason: string };
  /** stable */
  "updated destination": SourceFields & { checksum: string; algorithm: string; bytes: number };
  /** stable */
  "synchronization complete": {
    exit_code: number;
    duration_ms: number;
    total: number;
    synced: number;
    unchanged: number;
    skipped: number;
    failed: number;
    bytes: number;
  };
  /** stable */
  "checksum mismatch": SourceFields & { algorithm: string; expected: string; actual: string };
  /** stable */
  "unknown argument": { argument: string; reason: string };
  "invalid argument": { argument: string; reason: string };
  "environment unfit": { check: string; reason: string };
  "internal error": { reason: string };
  "paused at failpoint": { failpoint: string };
  "circuit breaker half-open": { source: string; origin: string };
  "circuit breaker opened": {
    source: string;
    origin: string;
    consecutive_failures: number;
    open_seconds: number;
  };
  "waiting for lock": SourceFields & { lock: string; wait_seconds: number };
  "removed stale lock": { lock: string; holder_pid: number | null; reason: string };
  /** A running holder of another user keeps the pair busy (once per lock and run). */
  "lock held by another user": { lock: string; owner_uid: number };
  /**
   * A stale-looking lock this run may not remove (another user's, in a sticky folder) whose holder
   * may still be running: the pair is skipped as busy. Said once per lock per run.
   */
  "cannot remove stale lock": {
    lock: string;
    owner_uid: number;
    error_code: string;
    reason: string;
  };
  /** A state record that is not what it should be: `file` (local state) or `key` (Redis). */
  "ignored unreadable state": { file?: string; key?: string; reason: string };
  /** A library's own console output (ioredis, BullMQ), as a log line (cli/library-output.ts). */
  "library warning": { reason: string };
  /** The shared state store stopped answering: leases not confirmed in time are given up. */
  "state store unreachable": { state: string; reason: string };
  "state store reachable again": { state: string };
  /** A kept part that may not be resumed (replaced, a link, another user's …): the transfer starts from zero. */
  "discarded part file": SourceFields & { reason: string };
  /** Part files a dead (or expired) predecessor left without a record, removed once this run holds the lease. */
  "removed stranded part files": SourceFields & { count: number };
  /** The run lost the destination's lease (paused past it, taken over): it stopped without committing. */
  "lock lost": SourceFields & { lock: string; reason: string };
  /** A download fetched over several connections (`--split`): how it is cut, and what was kept. */
  "segmented download": SourceFields & {
    size: number;
    segments: number;
    connections: number;
    resumed_bytes: number;
  };
  /**
   * One segment's request failed. `delay_ms` set: it is asked again from its own offset after
   * that wait; null: it waits for a connection to free (one fewer is used from now on).
   */
  "segment failed": SourceFields &
    FailureFields & {
      segment: number;
      offset: number;
      end: number;
      retryable: boolean;
      delay_ms: number | null;
    };
  /** Every segment's progress is durable (fdatasync) and recorded: a resume starts from `done`. */
  "segment progress recorded": SourceFields & { done: number[] };
  /** The destination was replaced, but its folder could not be fsynced: a power loss may undo it. */
  "commit not durable": SourceFields & { reason: string };
  /** The destination was replaced, but its marker could not be written: the next run checks it anew. */
  "state not recorded": SourceFields & { reason: string };
  "synchronization failed": SourceFields & FailureFields;
  "would fetch": SourceFields & { reason: string };
  "directory matched no files": { source: string; pattern: string };
  /** Options that act on directory sources only (`--max-depth` …), given to a run with none. */
  "options without effect": { options: string; reason: string };
  /** `--checksum-file` named none of the run's destinations: nothing is verified by it. */
  "checksum file matched no source": { file: string };
  /** A remote directory's index pages were read: what its plan holds. */
  "listed directory": { source: string; pages: number; files: number; folders: number };
  /** A remote folder that lists exactly what a folder above it lists (a link loop): not read further. */
  "skipped folder": { source: string; folder: string; reason: string };
  /** One attempt at a remote directory's index page failed; `delay_ms` is set when another follows. */
  "index request failed": {
    source: string;
    page: string;
    attempt: number;
    error_code: string;
    reason: string;
    retryable: boolean;
    delay_ms: number | null;
    status?: number;
  };
  /** A link in a directory source not followed (outside it, to a folder, dangling): not synced. */
  "skipped symlink": { source: string; link: string; reason: string };
  /** A transfer waits (up to 10 s) for another process's probe of a half-open circuit. */
  "waiting for probe": { source: string; origin: string };
  /** A FIFO, socket or device in a directory source: not read (a FIFO could block the run). */
  "skipped special file": { source: string; path: string; kind: string };
  /** `--insecure`: said on every run, since it is easy to forget in a script. */
  "TLS certificates not verified": { reason: string };
  interrupted: { signal: string };
  /** `enqueue`: a batch's jobs are on the queue (`batch_id` is the run id of its `--wait` report). */
  "enqueued batch": { batch_id: string; jobs: number; queue: string };
  /** `worker`: connected and taking jobs. Its lines carry `worker_id`, a job's also `job_id`. */
  "worker started": { worker_id: string; queue: string; state: string; concurrency: number };
  /** `worker`: stopped by a signal; the jobs it had in flight went back to the queue. */
  "worker stopped": { worker_id: string; signal: string; handed_back: number };
  /** A job stopped by its worker's shutdown, back on the queue for another worker. */
  "job handed back": { job_id: string; source: string; destination: string };
  /**
   * A job whose destination another runner holds (its own earlier delivery, still running, or
   * another batch's): asked again after `retry_in_seconds`, its result being that runner's.
   */
  "job delayed": {
    job_id: string;
    source: string;
    destination: string;
    round: number;
    retry_in_seconds: number;
  };
  /**
   * A job failed because the worker's state store could not be asked (`reason`): the worker
   * waits for the store and runs it again (`round`), for up to five minutes an outage.
   */
  "job waiting for the state store": {
    job_id: string;
    source: string;
    destination: string;
    reason: string;
    round: number;
  };
  /** A job this version cannot run (malformed: hand-written, another version's): failed as such. */
  "job refused": { job_id: string; reason: string };
  /**
   * BullMQ reported an error that is not its Redis going away: a job's lock it could not renew,
   * a job another worker finished meanwhile. Not an outage.
   */
  "queue error": { queue: string; reason: string };
  /** The queue's Redis stopped answering; its client keeps reconnecting. */
  "queue unreachable": { queue: string; reason: string };
  /** The queue's Redis answers again after `queue unreachable`. */
  "queue reachable again": { queue: string };
  /** `enqueue`: stopped (a signal, a lost Redis) with part of the batch queued; those jobs run. */
  "batch partly queued": { batch_id: string; queued: number; jobs: number; reason: string };
  /** `enqueue --wait`: Redis refuses CLIENT LIST, so a missing worker cannot be told. */
  "cannot tell whether workers listen": { queue: string; reason: string };
  /** `enqueue --wait`: no worker takes jobs from this queue (said again if all leave). */
  "no worker on the queue": { queue: string; batch_id: string; pending: number };
  /** `--metrics-file` could not be written (the run's outcome stands). */
  "metrics not written": { file: string; reason: string };
  /** `-v`: what the run will do, after every default is filled in. */
  "run settings": {
    sources: number;
    artifact_root: string;
    destination?: string;
    max_workers: number;
    max_attempts: number;
    backoff_factor: number;
    timeout_ms: number;
    retry_max_time_ms: number;
    algorithm: string;
    lock_dir: string;
    state: "local" | "redis";
    circuit_ttl_ms: number;
    circuit_threshold: number;
    wait_lock_ms: number;
    deadline_ms: number | null;
    split: number;
    limit_rate: number | null;
    max_filesize: number | null;
    pattern: string;
    max_depth: number | null;
    follow_symlinks: boolean;
    force: boolean;
    dry_run: boolean;
  };
  /** A library caller's `onProgress` threw: the run goes on. */
  "progress callback failed": { reason: string };
}

export type Message = keyof EventFields;

/** A structured event on its way to the subscribers (the JSON-lines writer, a test, …). */
export interface LogEvent<M extends Message = Message> {
  level: Level;
  message: M;
  fields: EventFields[M];
}

/** The sink every layer writes to. Formatting is the subscriber's job, never the emitter's. */
export interface Logger {
  emit<M extends Message>(level: Level, message: M, fields: EventFields[M]): void;
  /**
   * Whether events of `level` go anywhere. An emitter may skip building an event nobody takes
   * (a no-op run at `--quiet` built two info events per file for nothing: 5–6 % of its time).
   * Absent: every level is taken.
   */
  enabled?(level: Level): boolean;
}

/** Whether `logger` takes events of `level` (one without `enabled` takes everything). */
export function takes(logger: Logger, level: Level): boolean {
  // A host's logger may carry an `enabled` that is no function (a flag of its own): not ours.
  return typeof logger.enabled === "function" ? logger.enabled(level) !== false : true;
}

/** A logger that drops everything: the library's default. */
export const silentLogger: Logger = { emit: () => {}, enabled: () => false };

/**
 * A logger that puts `tags` before every event's own fields (a fleet worker tags its lines with
 * `worker_id` and `job_id`). An event's field of the same name wins.
 */
export function tagged(logger: Logger, tags: Record<string, string | number>): Logger {
  return {
    emit(level, message, fields) {
      logger.emit(level, message, { ...tags, ...fields } as typeof fields);
    },
    enabled: (level) => takes(logger, level),
  };
}
