/**
 * The pool of transfers: at most `limit` pairs in flight, and a free worker takes the first
 * waiting pair whose origin will let it in now — so that transfers queued behind a suspect
 * origin never hold a worker that a healthy origin could use. Results keep the plan's order.
 *
 * Waiting pairs are queued per origin, origins in the order they first appear. A worker looks at
 * origins from the first that still has pairs and skips those whose gate is shut — about one per
 * transfer in flight — so taking the next pair costs O(limit), and a batch of a hundred thousand
 * pairs is scheduled in linear time.
 */
import type { OriginGate, Turn } from "../health/origin-gate.js";

/** Items without an origin (refused pairs) need no turn. */
const NO_ORIGIN = Symbol("no origin");

export interface ScheduleOptions<T, R> {
  limit: number;
  gate: OriginGate;
  originOf: (item: T) => string | undefined;
  work: (item: T, turn: Turn) => Promise<R>;
  signal: AbortSignal;
  /**
   * The result of an item never started because `signal` aborted with `reason`; `undefined`
   * makes the whole schedule reject with that reason instead.
   */
  unstarted?: (item: T, reason: unknown) => R | undefined;
}

export async function runScheduled<T, R>(
  items: readonly T[],
  options: ScheduleOptions<T, R>,
): Promise<R[]> {
  const { gate, signal } = options;
  const results = new Array<R>(items.length);
  const started = new Array<boolean>(items.length).fill(false);
  const queues = new Map<string | typeof NO_ORIGIN, { indices: number[]; head: number }>();
  /** Origins in the order they first appear; those before `first` have nothing left. */
  const order: Array<string | typeof NO_ORIGIN> = [];
  let first = 0;
  let waiting = items.length;
  for (const [index, item] of items.entries()) {
    const origin = options.originOf(item) ?? NO_ORIGIN;
    let queue = queues.get(origin);
    if (!queue) {
      queue = { indices: [], head: 0 };
      queues.set(origin, queue);
      order.push(origin);
    }
    queue.indices.push(index);
  }
  const free: Turn = { held: false, leave: () => {} };
  const isEmpty = (origin: string | typeof NO_ORIGIN) => {
    const queue = queues.get(origin);
    return !queue || queue.head === queue.indices.length;
  };

  const take = (): { index: number; turn: Turn } | undefined => {
    while (first < order.length && isEmpty(order[first] as string)) first += 1;
    for (let at = first; at < order.length; at += 1) {
      const origin = order[at] as string | typeof NO_ORIGIN;
      if (isEmpty(origin)) continue;
      const turn = origin === NO_ORIGIN ? free : gate.tryEnter(origin);
      if (!turn) continue;
      const queue = queues.get(origin) as { indices: number[]; head: number };
      const index = queue.indices[queue.head] as number;
      queue.head += 1;
      waiting -= 1;
      return { index, turn };
    }
    return undefined;
  };

  const worker = async () => {
    while (waiting > 0) {
      // An aborted run starts nothing more: what is left is `unstarted`'s to report.
      if (signal.aborted) return;
      const next = take();
      if (!next) {
        try {
          await gate.changed(signal);
        } catch (error) {
          if (signal.aborted) return;
          throw error;
        }
        continue;
      }
      started[next.index] = true;
      try {
        results[next.index] = await options.work(items[next.index] as T, next.turn);
      } finally {
        next.turn.leave();
      }
    }
  };
  // allSettled: on abort every worker must finish its cleanup (locks) before the run settles.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(options.limit, items.length) }, worker),
  );
  const rejected = settled.find((outcome) => outcome.status === "rejected");
  if (rejected) throw rejected.reason;
  for (const [index, item] of items.entries()) {
    if (started[index]) continue;
    const result = options.unstarted?.(item, signal.reason);
    if (result === undefined) throw signal.reason;
    results[index] = result;
  }
  return results;
}
