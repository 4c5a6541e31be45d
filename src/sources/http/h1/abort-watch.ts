/**
 * One `abort` listener per signal, however many requests wait on it.
 *
 * Every request of a no-op re-run waits on the run's one signal. Adding and removing an
 * `EventTarget` listener per request cost ~12 % of the client's time in a run of 10,000 conditional
 * GETs (node's listeners are objects in a list, built per call and garbage soon after); a `Set`
 * behind one listener costs next to nothing. A signal seen once keeps its one listener (and an
 * empty set) until it is itself collected: the map is weak.
 */
type Callback = (reason: unknown) => void;

const waiting = new WeakMap<AbortSignal, Set<Callback>>();

/**
 * Calls `callback(signal.reason)` once when `signal` aborts, unless `unwatch` came first. The
 * caller checks `signal.aborted` before: a signal already aborted never calls back.
 */
export function watchAbort(signal: AbortSignal, callback: Callback): void {
  let callbacks = waiting.get(signal);
  if (!callbacks) {
    const set = new Set<Callback>();
    callbacks = set;
    waiting.set(signal, set);
    signal.addEventListener(
      "abort",
      () => {
        const due = [...set];
        set.clear();
        for (const call of due) call(signal.reason);
      },
      { once: true },
    );
  }
  callbacks.add(callback);
}

/** Forgets `callback` (a request that finished): it will not be called. */
export function unwatchAbort(signal: AbortSignal, callback: Callback): void {
  waiting.get(signal)?.delete(callback);
}
