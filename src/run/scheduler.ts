/**
 * The pool of transfers: at most `limit` pairs in flight, and a free worker takes the first
 * waiting pair whose origin will let it in now — so that transfers queued behind a suspect
 * origin never hold a worker that a healthy origin could use. Results keep the plan's order.
 */
import type { OriginGate, Turn } from "../health/origin-gate.js";

export async function runScheduled<T, R>(
  items: readonly T[],
  limit: number,
  gate: OriginGate,
  originOf: (item: T) => string | undefined,
  work: (item: T, turn: Turn) => Promise<R>,
  signal: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const waiting = items.map((_, index) => index);
  const free: Turn = { held: false, leave: () => {} };

  const take = (): { index: number; turn: Turn } | undefined => {
    for (const [position, index] of waiting.entries()) {
      const origin = originOf(items[index] as T);
      const turn = origin === undefined ? free : gate.tryEnter(origin);
      if (turn) {
        waiting.splice(position, 1);
        return { index, turn };
      }
    }
    return undefined;
  };

  const worker = async () => {
    while (waiting.length > 0) {
      signal.throwIfAborted();
      const next = take();
      if (!next) {
        await gate.changed(signal);
        continue;
      }
      try {
        results[next.index] = await work(items[next.index] as T, next.turn);
      } finally {
        next.turn.leave();
      }
    }
  };
  // allSettled: on abort every worker must finish its cleanup (locks) before the run rejects.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  const rejected = settled.find((outcome) => outcome.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}
