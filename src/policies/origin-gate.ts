/**
 * The origin gate: until an origin has answered one request well, only one transfer at a time may
 * talk to it. A dead origin is thus met by one transfer and its retries — which open the circuit
 * for everyone else — instead of by every worker at once, each spending its own retries. Once the
 * origin has proven itself, the gate stays open for the rest of the run.
 */

interface OriginState {
  proven: boolean;
  busy: boolean;
  waiters: Array<() => void>;
}

export class OriginGate {
  readonly #origins = new Map<string, OriginState>();

  #state(origin: string): OriginState {
    let state = this.#origins.get(origin);
    if (!state) {
      state = { proven: false, busy: false, waiters: [] };
      this.#origins.set(origin, state);
    }
    return state;
  }

  /** Waits for a turn at `origin`; resolves to the function that gives the turn back. */
  async enter(origin: string, signal?: AbortSignal): Promise<() => void> {
    const state = this.#state(origin);
    for (;;) {
      signal?.throwIfAborted();
      if (state.proven) return () => {};
      if (!state.busy) {
        state.busy = true;
        let left = false;
        return () => {
          if (left) return;
          left = true;
          state.busy = false;
          this.#wake(state, 1);
        };
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          state.waiters.splice(state.waiters.indexOf(wake), 1);
          reject(signal?.reason);
        };
        state.waiters.push(wake);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /** The origin answered well: let everyone through from now on. */
  prove(origin: string): void {
    const state = this.#state(origin);
    if (state.proven) return;
    state.proven = true;
    this.#wake(state, state.waiters.length);
  }

  #wake(state: OriginState, count: number): void {
    for (const wake of state.waiters.splice(0, count)) wake();
  }
}
