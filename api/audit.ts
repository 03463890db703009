// Audit log of configuration changes: who (key id and name), what (operation, target), the state
// before and after, and when. Behind a small interface so the records can move to PostgreSQL with the
// other stores; the Redis version keeps the newest `maxEntries` in one capped list.
import type { Redis } from 'ioredis';
import { Keys } from '../infra/redis.js';

export interface AuditEntry {
  /** Monotonic per store, newest highest; the page cursor. */
  seq: number;
  at: number;
  keyId: string | null;
  keyName: string | null;
  role: string | null;
  /** OpenAPI operationId of the change (createCamera, putZones, revokeKey, …). */
  action: string;
  method: string;
  path: string;
  /** What was changed: `camera:<id>`, `key:<id>`. */
  target: string;
  /** Public (redacted) state before and after; null when it did not exist. */
  before: unknown;
  after: unknown;
  requestId: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  /** Pass as `before` for the next (older) page; null at the end. */
  nextCursor: number | null;
}

export interface AuditStore {
  append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry>;
  /** Newest first; entries with seq < before when given. */
  list(opts: { limit: number; before?: number | null; target?: string }): Promise<AuditPage>;
}

export class RedisAuditStore implements AuditStore {
  private readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix?: string,
    private readonly maxEntries = 100_000,
  ) {
    this.keys = new Keys(prefix);
  }

  private get listKey(): string {
    return this.keys.k('audit', 'log');
  }
  private get seqKey(): string {
    return this.keys.k('audit', 'seq');
  }

  async append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    const seq = await this.redis.incr(this.seqKey);
    const full: AuditEntry = { seq, ...entry };
    await this.redis
      .multi()
      .lpush(this.listKey, JSON.stringify(full))
      .ltrim(this.listKey, 0, this.maxEntries - 1)
      .exec();
    return full;
  }

  async list(opts: { limit: number; before?: number | null; target?: string }): Promise<AuditPage> {
    const items: AuditEntry[] = [];
    const chunk = 500;
    // The list is newest first; walk it until the page is full (a target filter may skip many).
    for (let start = 0; items.length < opts.limit + 1; start += chunk) {
      const raw = await this.redis.lrange(this.listKey, start, start + chunk - 1);
      if (raw.length === 0) break;
      for (const j of raw) {
        const e = JSON.parse(j) as AuditEntry;
        if (opts.before != null && e.seq >= opts.before) continue;
        if (opts.target && e.target !== opts.target) continue;
        items.push(e);
        if (items.length > opts.limit) break;
      }
    }
    const more = items.length > opts.limit;
    const page = items.slice(0, opts.limit);
    return { items: page, nextCursor: more ? page[page.length - 1]!.seq : null };
  }
}
