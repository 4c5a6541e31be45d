/**
 * The pool of transfers: at most `limit` pairs in flight, and a free worker takes the first
 * waiting pair whose origin will let it in now — so that transfers queued behind a suspect
 * origin never hold a worker that a healthy origin could use.
 *
 * Items are drawn from an iterator as workers need them, so a batch is never held as a whole
 * here: an item is made when it is taken, and dropped when its work is done. Only items whose
 * origin's gate was shut when they came up are kept, queued per origin (origins in the order they
 * were first deferred) and taken before anything new once their gate opens. A worker looks at
 * the deferred origins — about one per transfer in flight, since a gate is shut only while a
 * transfer holds it — then at the next new item, so taking an item costs O(limit) and a batch of
 * a hundred thousand pairs is scheduled in linear time.
 */
import type { OriginGate, Turn } from "../health/origin-gate.js";

export interface ScheduleOptions<T> {
  limit: number;
  gate: OriginGate;
  /** Items without an origin (refused pairs) need no turn. */
  originOf: (item: T) => string | undefined;
  /** Does the item, `index` its place in the iteration; the turn is left by the scheduler after. */
  work: (item: T, index: number, turn: Turn) => Promise<void>;
  signal: AbortSignal;
  /**
   * Told of each item never started because `signal` aborted with `reason`; resolving to false
   * makes the whole schedule reject with that reason instead (after every worker has finished).
   */
  unstarted?: (item: T, index: number, reason: unknown) => boolean | Promise<boolean>;
  /** Told of each item worked on, once its turn has been left (what the run keeps of it may go). */
  finished?: (item: T) => void;
}

interface Entry<T> {
  item: T;
  index: number;
}

/**
 * An origin's deferred items and their places, in two arrays rather than an entry object each:
 * an unproven origin's queue holds a whole input list behind its first transfer (16 bytes a line
 * instead of 48).
 */
interface Queue<T> {
  items: T[];
  indexes: number[];
  head: number;
}

const FREE: Turn = { held: false, leave: () => {} };

/**
 * Runs `work` on every item of `items`, each once, at most `options.limit` at a time. Resolves
 * when every item has been worked on (or reported to `unstarted`); rejects with a worker's error,
 * or with the signal's reason when `unstarted` declines an item.
 */
export async function schedule<T>(items: Iterator<T>, options: ScheduleOptions<T>): Promise<void> {
  const { gate, signal } = options;
  const deferred = new Map<string, Queue<T>>();
  let next = 0;
  let exhausted = false;

  const take = (): { entry: Entry<T>; turn: Turn } | undefined => {
    for (const [origin, queue] of deferred) {
      const turn = gate.tryEnter(origin);
      if (!turn) continue;
      const entry = {
        item: queue.items[queue.head] as T,
        index: queue.indexes[queue.head] as number,
      };
      queue.items[queue.head] = undefined as T;
      queue.head += 1;
      if (queue.head === queue.items.length) deferred.delete(origin);
      return { entry, turn };
    }
    while (!exhausted) {
      const drawn = items.next();
      if (drawn.done) {
        exhausted = true;
        break;
      }
      const item = drawn.value;
      const index = next;
      next += 1;
      const origin = options.originOf(item);
      if (origin === undefined) return { entry: { item, index }, turn: FREE };
      // An origin with items already waiting keeps its order: this one waits behind them.
      const queue = deferred.get(origin);
      if (queue) {
        queue.items.push(item);
        queue.indexes.push(index);
        continue;
      }
      const turn = gate.tryEnter(origin);
      if (turn) return { entry: { item, index }, turn };
      deferred.set(origin, { items: [item], indexes: [index], head: 0 });
    }
    return undefined;
  };

  const worker = async () => {
    while (!exhausted || deferred.size > 0) {
      // An aborted run starts nothing more: what is left is `unstarted`'s to report.
      if (signal.aborted) return;
      const taken = take();
      if (!taken) {
        if (exhausted && deferred.size === 0) return;
        try {
          await gate.changed(signal);
        } catch (error) {
          if (signal.aborted) return;
          throw error;
        }
        continue;
      }
      try {
        await options.work(taken.entry.item, taken.entry.index, taken.turn);
      } finally {
        taken.turn.leave();
        options.finished?.(taken.entry.item);
      }
    }
  };
  // allSettled: on abort every worker must finish its cleanup (locks) before the run settles.
  const settled = await Promise.allSettled(Array.from({ length: options.limit }, worker));
  const rejected = settled.find((outcome) => outcome.status === "rejected");
  if (rejected) throw rejected.reason;
  if (!signal.aborted) return;
  const left: Entry<T>[] = [];
  for (const queue of deferred.values())
    for (let at = queue.head; at < queue.items.length; at += 1)
      left.push({ item: queue.items[at] as T, index: queue.indexes[at] as number });
  deferred.clear();
  left.sort((a, b) => a.index - b.index);
  for (const entry of left) await report(entry);
  for (let drawn = items.next(); !drawn.done; drawn = items.next()) {
    await report({ item: drawn.value, index: next });
    next += 1;
  }

  async function report(entry: Entry<T>): Promise<void> {
    const accepted = (await options.unstarted?.(entry.item, entry.index, signal.reason)) ?? false;
    if (!accepted) throw signal.reason;
  }
}

/** `schedule` over an array, its results in the array's order (for callers that keep them all). */
export async function runScheduled<T, R>(
  items: readonly T[],
  options: Omit<ScheduleOptions<T>, "work" | "unstarted"> & {
    work: (item: T, turn: Turn) => Promise<R>;
    /** The result of an item never started; `undefined` rejects the schedule with `reason`. */
    unstarted?: (item: T, reason: unknown) => R | undefined;
  },
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const { unstarted } = options;
  await schedule(items[Symbol.iterator](), {
    ...options,
    limit: Math.min(options.limit, items.length),
    work: async (item, index, turn) => {
      results[index] = await options.work(item, turn);
    },
    unstarted: (item, index, reason) => {
      const result = unstarted?.(item, reason);
      if (result === undefined) return false;
      results[index] = result;
      return true;
    },
  });
  return results;
}
