// The case outbox: while the database cannot be reached, case writes (creations, evidence, latest
// sightings) go to a journal on local disk (fsynced before the caller continues) and a background
// flusher writes them to the database when it is back, strictly in order. A creation is replayed
// through the normal create() path with its original time, so it is idempotent per episode key:
// a journal replayed twice (crash between write and ack) never duplicates a case.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvidenceRef } from '../../pipeline/types.js';
import { appendSynced, rewriteSynced } from '../adapters/journal.js';

// A creation carries the case store's CreateCaseInput as JSON; the outbox does not read it (the
// store, which wrote it, types it back when it replays), so the journal does not import the store.
export type OutboxOp =
  | { kind: 'create'; input: object & { idempotencyKey: string; now: number } }
  | { kind: 'evidence'; caseId: string; episodeKey: string | null; refs: EvidenceRef[]; status: 'pending' | 'ready' | 'missing' | 'failed' }
  | { kind: 'touch'; caseId: string; episodeKey: string | null; lastSeenAt: number };

type Line = { op: 'add'; seq: number; at: number; item: OutboxOp } | { op: 'done'; seq: number } | { op: 'seq'; next: number };

export interface OutboxEntry {
  seq: number;
  at: number;
  item: OutboxOp;
}

const FILE = 'cases.jsonl';

export class CaseOutbox {
  private pending: OutboxEntry[] = [];
  private nextSeq = 1;
  private tail: Promise<void> = Promise.resolve();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<CaseOutbox> {
    const o = new CaseOutbox(dir);
    await mkdir(dir, { recursive: true });
    let text = '';
    try {
      text = await readFile(o.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const adds = new Map<number, OutboxEntry>();
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      let l: Line;
      try {
        l = JSON.parse(raw) as Line;
      } catch {
        continue; // a torn last line from a crash mid-append was never acknowledged
      }
      if (l.op === 'add') {
        adds.set(l.seq, { seq: l.seq, at: l.at, item: l.item });
        o.nextSeq = Math.max(o.nextSeq, l.seq + 1);
      } else if (l.op === 'done') adds.delete(l.seq);
      else o.nextSeq = Math.max(o.nextSeq, l.next);
    }
    o.pending = [...adds.values()].sort((a, b) => a.seq - b.seq);
    await o.compact();
    return o;
  }

  get file(): string {
    return join(this.dir, FILE);
  }

  get size(): number {
    return this.pending.length;
  }

  oldestAgeMs(now = Date.now()): number {
    return this.pending[0] ? now - this.pending[0].at : 0;
  }

  /** Appends (serialised, fsynced); resolves when the entry is durable. */
  add(item: OutboxOp): Promise<void> {
    const run = this.tail.then(async () => {
      const e: OutboxEntry = { seq: this.nextSeq++, at: Date.now(), item };
      await appendSynced(this.file, [JSON.stringify({ op: 'add', ...e })]);
      this.pending.push(e);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  peek(): OutboxEntry | undefined {
    return this.pending[0];
  }

  /** Marks the oldest entry written. */
  async ack(seq: number): Promise<void> {
    const run = this.tail.then(async () => {
      await appendSynced(this.file, [JSON.stringify({ op: 'done', seq })]);
      this.pending = this.pending.filter((e) => e.seq !== seq);
      if (this.pending.length === 0) await this.compact();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async compact(): Promise<void> {
    await rewriteSynced(this.file, [
      JSON.stringify({ op: 'seq', next: this.nextSeq }),
      ...this.pending.map((e) => JSON.stringify({ op: 'add', ...e })),
    ]);
  }
}
