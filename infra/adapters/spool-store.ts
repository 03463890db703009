// Spooling wrapper around a primary evidence store (normally S3). When the primary cannot be reached,
// evidence goes to a bounded on-disk spool (item files + an append-only journal, fsynced) and a
// background drainer uploads it later, strictly in the order it was accepted, with backoff. The
// journal survives process death: on open, pending items are drained. Re-uploads after a crash are
// skipped when the primary already holds the same key with the same sha256, so nothing is duplicated.
import { backoffDelay } from '../../pipeline/backoff.js';
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  assertKey,
  baseName,
  digest,
  inferKind,
  type EvidenceStore,
  type PutOptions,
  type StoredObjectInfo,
} from '../../pipeline/evidence/store.js';
import type { EvidenceFile, EvidenceRef } from '../../pipeline/types.js';
import { atomicWrite } from './fs-store.js';
import { appendSynced, rewriteSynced } from './journal.js';

export interface SpoolOptions {
  /** Spool directory (journal + item files); must be on local disk. */
  dir: string;
  /** Bytes of spooled content accepted before new items are refused. */
  maxBytes: number;
  /** Items accepted before new items are refused. */
  maxItems: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Start the drainer on open (default true). */
  autoDrain?: boolean;
}

export interface SpoolDepth {
  items: number;
  bytes: number;
  /** Age of the oldest pending item (ms), 0 when empty. */
  oldestAgeMs: number;
}

export class SpoolFullError extends Error {
  readonly code = 'SPOOL_FULL';
}

interface AddRecord {
  op: 'add';
  seq: number;
  key: string;
  file: string;
  contentType: string;
  metadata: Record<string, string>;
  kind: EvidenceFile['kind'];
  bytes: number;
  sha256: string;
  at: number;
}
type JournalRecord = AddRecord | { op: 'done'; seq: number } | { op: 'seq'; next: number };

export type SpooledRef = EvidenceRef & { spooled: boolean };

const JOURNAL = 'journal.jsonl';
const ITEMS = 'items';

export class SpoolingEvidenceStore extends EventEmitter implements EvidenceStore {
  readonly kind: EvidenceRef['store'];
  private pending: AddRecord[] = [];
  private nextSeq = 1;
  private chain: Promise<unknown> = Promise.resolve();
  private draining: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  /** Last error from the primary, for depth reports and the spool-full message. */
  lastError: string | null = null;
  uploadedCount = 0;
  skippedCount = 0;

  private constructor(
    readonly primary: EvidenceStore,
    private readonly opts: SpoolOptions,
  ) {
    super();
    this.kind = primary.kind;
  }

  static async open(primary: EvidenceStore, opts: SpoolOptions): Promise<SpoolingEvidenceStore> {
    if (!(opts.maxBytes > 0) || !(opts.maxItems > 0)) throw new Error('spool: maxBytes and maxItems must be positive');
    const s = new SpoolingEvidenceStore(primary, opts);
    await s.load();
    if (opts.autoDrain !== false) s.kick();
    return s;
  }

  private journalPath(): string {
    return join(this.opts.dir, JOURNAL);
  }

  private async load(): Promise<void> {
    await mkdir(join(this.opts.dir, ITEMS), { recursive: true });
    let text = '';
    try {
      text = await readFile(this.journalPath(), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const adds = new Map<number, AddRecord>();
    let next = 1;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let rec: JournalRecord;
      try {
        rec = JSON.parse(line) as JournalRecord;
      } catch {
        continue; // a torn final line from a crash mid-append: its item was never acknowledged
      }
      if (rec.op === 'add') {
        adds.set(rec.seq, rec);
        next = Math.max(next, rec.seq + 1);
      } else if (rec.op === 'done') adds.delete(rec.seq);
      else if (rec.op === 'seq') next = Math.max(next, rec.next);
    }
    const pending: AddRecord[] = [];
    for (const rec of [...adds.values()].sort((a, b) => a.seq - b.seq)) {
      try {
        const st = await stat(join(this.opts.dir, rec.file));
        if (st.size !== rec.bytes) throw new Error(`size ${st.size} != journal ${rec.bytes}`);
        pending.push(rec);
      } catch (err) {
        this.emit('lost', { key: rec.key, seq: rec.seq, error: `spool item unreadable: ${(err as Error).message}` });
      }
    }
    this.pending = pending;
    this.nextSeq = next;
    // Item files without a journal entry were never acknowledged to a caller (crash before append).
    const keep = new Set(pending.map((r) => baseName(r.file)));
    for (const f of await readdir(join(this.opts.dir, ITEMS))) {
      if (!keep.has(f)) await rm(join(this.opts.dir, ITEMS, f), { force: true });
    }
    await this.compact();
  }

  /** Rewrites the journal with only pending items (atomic), so it does not grow forever. */
  private async compact(): Promise<void> {
    await rewriteSynced(this.journalPath(), [
      JSON.stringify({ op: 'seq', next: this.nextSeq }),
      ...this.pending.map((r) => JSON.stringify(r)),
    ]);
  }

  private async append(rec: JournalRecord): Promise<void> {
    await appendSynced(this.journalPath(), [JSON.stringify(rec)]);
  }

  depth(): SpoolDepth {
    const bytes = this.pending.reduce((s, r) => s + r.bytes, 0);
    const oldest = this.pending[0];
    return { items: this.pending.length, bytes, oldestAgeMs: oldest ? Date.now() - oldest.at : 0 };
  }

  /** Keys waiting in the spool, in upload order. */
  pendingKeys(): string[] {
    return this.pending.map((r) => r.key);
  }

  put(key: string, body: string | Buffer, opts: PutOptions): Promise<SpooledRef> {
    // Puts are serialised so acceptance order is upload order, whichever path each one takes.
    const run = this.chain.then(() => this.putNow(key, body, opts));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async putNow(key: string, body: string | Buffer, opts: PutOptions): Promise<SpooledRef> {
    if (this.closed) throw new Error('spool: store is closed');
    assertKey(key);
    if (!Buffer.isBuffer(body)) {
      const st = await stat(body).catch(() => null);
      if (!st?.isFile()) throw new Error(`spool put ${key}: no such file ${body}`);
    }
    if (this.pending.length === 0) {
      try {
        const ref = await this.primary.put(key, body, opts);
        this.lastError = null;
        return { ...ref, spooled: false };
      } catch (err) {
        this.lastError = (err as Error).message;
      }
    }
    return this.spool(key, body, opts);
  }

  private async spool(key: string, body: string | Buffer, opts: PutOptions): Promise<SpooledRef> {
    const d = await digest(body);
    const depth = this.depth();
    if (depth.items + 1 > this.opts.maxItems || depth.bytes + d.bytes > this.opts.maxBytes) {
      throw new SpoolFullError(
        `evidence spool full: ${depth.items} items / ${depth.bytes} B pending (limits ${this.opts.maxItems} items / ${this.opts.maxBytes} B); ` +
          `cannot accept ${key} (${d.bytes} B); primary store error: ${this.lastError ?? 'none recorded'}`,
      );
    }
    const seq = this.nextSeq++;
    const file = `${ITEMS}/${String(seq).padStart(9, '0')}.bin`;
    const target = join(this.opts.dir, file);
    await atomicWrite(target, body);
    const kind = opts.kind ?? inferKind(baseName(key), opts.contentType);
    const rec: AddRecord = {
      op: 'add',
      seq,
      key,
      file,
      contentType: opts.contentType,
      metadata: opts.metadata ?? {},
      kind,
      bytes: d.bytes,
      sha256: d.sha256,
      at: Date.now(),
    };
    await this.append(rec);
    this.pending.push(rec);
    this.emit('spooled', { key, seq, depth: this.depth() });
    this.kick();
    return {
      store: this.kind,
      key,
      file: { name: baseName(key), kind, contentType: opts.contentType, bytes: d.bytes, sha256: d.sha256 },
      spooled: true,
    };
  }

  /** Starts the drainer if it is not running. */
  kick(): void {
    if (this.draining || this.closed || this.pending.length === 0) return;
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
      if (!this.closed && this.pending.length > 0) this.kick();
    });
  }

  /** Resolves when the spool is empty (or the store is closed). */
  async drained(): Promise<void> {
    while (!this.closed && this.pending.length > 0) {
      this.kick();
      await this.draining;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** Cuts the current backoff short (e.g. when an operator knows the primary is back). */
  retryNow(): void {
    this.wake?.();
  }

  private async drainLoop(): Promise<void> {
    const backoff = { initialMs: this.opts.backoffInitialMs ?? 500, maxMs: this.opts.backoffMaxMs ?? 30_000 };
    let attempt = 0;
    while (!this.closed && this.pending.length > 0) {
      const rec = this.pending[0]!;
      const path = join(this.opts.dir, rec.file);
      try {
        // A previous process may have uploaded this item and died before journaling it as done.
        const existing = await this.primary.stat(rec.key);
        const skipped = existing !== null && existing.sha256 === rec.sha256 && existing.bytes === rec.bytes;
        if (!skipped) await this.primary.put(rec.key, path, { contentType: rec.contentType, metadata: rec.metadata, kind: rec.kind });
        await this.append({ op: 'done', seq: rec.seq });
        this.pending.shift();
        await rm(path, { force: true });
        if (skipped) this.skippedCount++;
        else this.uploadedCount++;
        this.lastError = null;
        attempt = 0;
        this.emit('uploaded', { key: rec.key, seq: rec.seq, skipped, depth: this.depth() });
      } catch (err) {
        this.lastError = (err as Error).message;
        attempt++;
        const delay = backoffDelay(attempt, backoff);
        this.emit('retry', { key: rec.key, seq: rec.seq, attempt, delayMs: delay, error: this.lastError });
        await this.sleep(delay);
      }
    }
    if (!this.closed && this.pending.length === 0) {
      await this.compact();
      this.emit('drained');
    }
  }

  /** Stops the drainer after the in-flight upload; pending items stay in the journal for the next open. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.draining;
    await this.chain;
  }

  private pendingFor(key: string): AddRecord | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) if (this.pending[i]!.key === key) return this.pending[i];
    return undefined;
  }

  // Reads prefer the spooled copy: it is newer than anything the primary may hold under the key.
  async get(key: string): Promise<Buffer> {
    const rec = this.pendingFor(key);
    return rec ? readFile(join(this.opts.dir, rec.file)) : this.primary.get(key);
  }

  async getStream(key: string): Promise<Readable> {
    const rec = this.pendingFor(key);
    return rec ? createReadStream(join(this.opts.dir, rec.file)) : this.primary.getStream(key);
  }

  async exists(key: string): Promise<boolean> {
    return this.pendingFor(key) !== undefined || this.primary.exists(key);
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    const rec = this.pendingFor(key);
    if (rec) return { key, bytes: rec.bytes, sha256: rec.sha256, contentType: rec.contentType, metadata: rec.metadata };
    return this.primary.stat(key);
  }

  /** Null while the object is only in the spool: there is nothing a remote reader could fetch yet. */
  async presign(key: string, expirySec: number): Promise<string | null> {
    if (this.pendingFor(key)) return null;
    return this.primary.presign(key, expirySec);
  }

  async list(prefix: string): Promise<string[]> {
    const keys = new Set(await this.primary.list(prefix));
    for (const r of this.pending) if (r.key.startsWith(prefix)) keys.add(r.key);
    return [...keys].sort();
  }
}
