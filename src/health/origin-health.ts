/**
 * What the run knows of each origin's health, in one place: the in-process gate (one transfer at
 * a time to an origin not yet proven, see `origin-gate.ts`) and the persisted circuit breaker
 * (see `circuits.ts`), and the one rule that turns a transfer's outcome into news for both.
 */
import type { SyncError } from "../errors.js";
import type { Circuits } from "./circuits.js";
import type { OriginGate, Turn } from "./origin-gate.js";

export type { Turn } from "./origin-gate.js";

/** Codes that prove the origin answered (it is alive, whatever the user thinks of the answer). */
const ORIGIN_ANSWERED = new Set<string>(["not_found", "checksum_mismatch"]);
/** Codes that, when transient, count against the origin. */
const ORIGIN_FAILED = new Set<string>(["network", "timeout", "http_error"]);

/** Whether `error` says the origin itself is failing (and should count against its circuit). */
export function isOriginFailure(error: SyncError): boolean {
  return error.retryable && !error.throttled && !error.atProxy && ORIGIN_FAILED.has(error.code);
}

/**
 * Whether `error` says the way to the origin is down — no connection could be made, or a gateway
 * could not reach it — as opposed to an answer the origin gave or a connection it cut. Such
 * failures from an origin that was answering moments ago are an outage: worth waiting out.
 */
export function isUnreachable(error: SyncError): boolean {
  return error.retryable && !error.throttled && error.unreachable;
}

export class OriginHealth {
  readonly gate: OriginGate;
  readonly circuits: Circuits;

  constructor(gate: OriginGate, circuits: Circuits) {
    this.gate = gate;
    this.circuits = circuits;
  }

  /**
   * Forgets `origin` in this process (gate and cached circuit; the stored circuit stays): for an
   * origin the run will not ask about again.
   */
  forget(origin: string): void {
    this.gate.forget(origin);
    this.circuits.forget(origin);
  }

  /** Waits for a turn at `origin`'s gate. */
  enter(origin: string, signal: AbortSignal): Promise<Turn> {
    return this.gate.enter(origin, signal);
  }

  /**
   * Tells the gate and the circuit what a transfer said about the origin that served it (the last
   * hop of any redirect; `origin` is the one asked). A transient failure counts against it; any
   * answer — success, 404, a bad checksum — proves it alive; a local failure (disk full) says
   * nothing, except that a probe is void. `since` is the gate epoch the attempt began in.
   */
  async report(
    origin: string,
    servedBy: string | undefined,
    error: SyncError | undefined,
    probe: boolean,
    since: number,
    source: string,
  ): Promise<void> {
    const served = servedBy ?? origin;
    if (error?.throttled) {
      // It asked us to slow down: it is alive, whatever became of this transfer.
      await this.circuits.succeeded(served, source);
      if (served !== origin) await this.circuits.succeeded(origin, source);
    } else if (
      !error ||
      ORIGIN_ANSWERED.has(error.code) ||
      (error.code === "http_error" && !error.retryable)
    ) {
      // A redirect's target was not what the attempt's epoch was taken from: its proof counts as fresh.
      this.gate.prove(served, "finished", served === origin ? since : this.gate.epoch(served));
      await this.circuits.succeeded(served, source);
      // A redirect that led to a working origin speaks for the first one too.
      if (served !== origin) await this.circuits.succeeded(origin, source);
    } else if (isOriginFailure(error)) {
      await this.circuits.failed(served, source);
      if (probe && served !== origin) await this.circuits.abandonProbe(origin);
    } else if (probe) {
      await this.circuits.abandonProbe(origin);
    }
  }

  /** The source answered (headers arrived): enough to prove an origin never seen failing. */
  answered(origin: string, servedBy: string | undefined, since: number): void {
    const served = servedBy ?? origin;
    this.gate.prove(served, "answered", served === origin ? since : this.gate.epoch(served));
  }
}
