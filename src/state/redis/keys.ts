/**
 * The Redis keys of a store: everything under one prefix (`--state-prefix`), so that several
 * deployments (or tests) can share one Redis without seeing each other's state.
 */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Holds the holder's token while lease `key` is held; Redis expires it (`PX`). */
  lease(key: string): string {
    return `${this.prefix}lease:${key}`;
  }

  /** The counter behind the fences of lease `key` (`INCR`, never reset). */
  fence(key: string): string {
    return `${this.prefix}fence:${key}`;
  }

  /** The last holder of lease `key`: its fence, token and whether it released the lease. */
  holder(key: string): string {
    return `${this.prefix}holder:${key}`;
  }

  marker(key: string): string {
    return `${this.prefix}marker:${key}`;
  }

  part(key: string): string {
    return `${this.prefix}part:${key}`;
  }

  circuit(origin: string): string {
    return `${this.prefix}circuit:${origin}`;
  }
}
