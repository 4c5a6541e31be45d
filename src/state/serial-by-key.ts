/**
 * Runs tasks one after another per key, in the order they were given: a store's circuit updates
 * for one origin from this process never race each other (the store's own atomic step then only
 * has other processes to settle with). A task that fails does not stop the ones queued after it.
 */
export class SerialByKey {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every earlier task of `key` has settled; resolves or rejects as it does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const next = before.catch(() => {}).then(task);
    this.#tails.set(key, next);
    void next
      .finally(() => {
        if (this.#tails.get(key) === next) this.#tails.delete(key);
      })
      .catch(() => {});
    return next;
  }
}
