// Cases: the durable record a confirmed violation episode turns into, and the API the HTTP layer
// and the workers share. Stored in PostgreSQL (PGlite when embedded): cases, their history (life
// cycle and merges), evidence references, verification results and episode keys are rows; Redis
// only carries the live feed of changes (pub/sub).
//
// Exactly one case per episode: every episode key is a primary key in case_episodes, written in
// the same transaction as the case, and creations for the same camera/class/zone are serialised by
// a transaction-scoped advisory lock (so two workers racing on one episode, or on two sightings of
// one violation, see each other's result). A reappearance the rules engine could not tie to its
// episode (a new worker after failover, a new track id after a long occlusion) is merged into the
// open case of the same camera/class/zone whose boxes overlap and which was seen within the merge
// window; the merge is a history entry carrying the merged episode's reason record, IoU and window.
//
// Every change goes through update(), which locks the row, validates a state change against
// CASE_TRANSITIONS (the one place transitions are checked) and appends history/evidence rows.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { sql, type RawBuilder, type Transaction } from 'kysely';
import { getClass } from '../../pipeline/rules/catalog.js';
import { MERGE_IOU, mergeDetails, mergeIouOf, mergeNote, type MergeDetails } from '../../pipeline/rules/case-policy.js';
import type { Box, EvidenceRef, ReasonRecord, Urgency } from '../../pipeline/types.js';
import type { Db } from '../db/db.js';
import { Keys } from '../redis.js';
import { isConnectionError } from '../db/db.js';
import type { CaseOutbox, OutboxEntry } from './case-outbox.js';
import { defaultConventions, localTime, type CaseConventions } from './conventions.js';

import { CASE_STATES, CASE_TRANSITIONS, OPEN_STATES, type CaseState } from './case-states.js';
export { CASE_STATES, CASE_TRANSITIONS, OPEN_STATES, type CaseState } from './case-states.js';

/** Rejections per camera × class × zone over a range (GET /v1/stats/rejections). */
export interface RejectionRow {
  cameraId: string;
  classId: string;
  zoneId: string | null;
  cases: number;
  rejected: number;
  /** rejected / cases, 3 decimals. */
  rejectionRate: number;
  /** Rejection reasons as typed, most frequent first. */
  reasons: { reason: string; count: number }[];
}

/** States in which a reappearance of the violation adds to the case instead of opening another. */
export const MERGEABLE_STATES: readonly CaseState[] = ['new', 'dispatched', 'reopened'];

export interface CaseHistoryEntry {
  at: number;
  from: CaseState | null;
  to: CaseState;
  reason?: string;
  actor?: string;
  /** 'created' | 'transition' | 'merge' (absent on entries built by callers: a transition). */
  kind?: 'created' | 'transition' | 'merge';
  /** On a merge: which episode joined, why (its reason record), and how well it matched. */
  merge?: MergeDetails;
}

/** Defined with the merge rule (pipeline/rules/case-policy.ts). */
export type { MergeDetails };

export interface CaseVerification {
  /** Epoch ms at which observation starts (handled + delay) and ends. */
  startAt: number;
  endAt: number;
  presenceRatio: number;
  present?: number;
  total?: number;
  result?: 'verified' | 'reopened';
  decidedAt?: number;
}

export interface CaseRecord {
  id: string;
  /** Idempotency key of the episode that opened the case (also the webhook idempotency base). */
  idempotencyKey: string;
  /** Every episode key that maps to this case (first one first). */
  episodeKeys: string[];
  cameraId: string;
  cameraName?: string;
  timezone: string;
  classId: string;
  nameZh: string;
  nameEn: string;
  urgency: Urgency;
  dueHours: number;
  /** Epoch ms by which the responsible party must act. */
  dueAt: number;
  zoneId: string | null;
  zoneName?: string;
  zoneType: string | null;
  responsibleParty: string;
  state: CaseState;
  createdAt: number;
  updatedAt: number;
  /** Epoch ms of the violation's first and latest sighting. */
  firstSeenAt: number;
  lastSeenAt: number;
  boxes: Box[];
  reason: ReasonRecord;
  extras?: Record<string, unknown>;
  evidence: EvidenceRef[];
  evidenceStatus: 'pending' | 'ready' | 'missing' | 'failed';
  /** Reappearances merged into this case. */
  reappearances: number;
  history: CaseHistoryEntry[];
  verification?: CaseVerification;
  /** City category code of the class (大类/小类), from the conventions in force when the case opened. */
  categoryCode?: string | null;
  category?: { code: string; majorZh: string; minorZh: string } | null;
  /** The time limit dueAt was computed from (working hours/days or calendar hours). */
  timeLimit?: { amount: number; unit: 'hours' | 'workingHours' | 'workingDays' };
}

export interface CreateCaseInput {
  idempotencyKey: string;
  cameraId: string;
  cameraName?: string;
  timezone?: string;
  classId: string;
  zoneId: string | null;
  zoneName?: string;
  zoneType: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
  boxes: Box[];
  reason: ReasonRecord;
  extras?: Record<string, unknown>;
  /** A reappearance within this many ms of an open case's last sighting joins that case. */
  mergeWindowMs: number;
  /** Box IoU above which two sightings are the same violation (default 0.3). */
  mergeIou?: number;
  now?: number;
}

export type CreateOutcome = 'created' | 'existing' | 'merged';

export interface CaseFilters {
  classId?: string;
  cameraId?: string;
  zoneId?: string;
  state?: CaseState | CaseState[];
  categoryCode?: string;
  /**
   * Substring (case-insensitive) of id, class names, camera/zone names or ids, category code, responsible
   * party (in that order, space-joined; the first SEARCH_TEXT_MAX characters).
   */
  q?: string;
  /** createdAt range, epoch ms, inclusive. */
  from?: number;
  to?: number;
}

export interface CasePage {
  items: CaseRecord[];
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

export interface CaseStats {
  from: number | null;
  to: number | null;
  total: number;
  byClass: Record<string, number>;
  byCamera: Record<string, number>;
  /** Keyed `${cameraId}/${zoneId}`: zone ids are only unique within a camera. */
  byZone: Record<string, number>;
  byState: Record<string, number>;
  byCategory: Record<string, number>;
  /** Index 0..23 = hour of day in the camera's time zone. */
  byHour: number[];
}

export class CaseNotFoundError extends Error {
  override name = 'CaseNotFoundError';
  readonly code = 'CASE_NOT_FOUND';
}

export class CaseTransitionError extends Error {
  override name = 'CaseTransitionError';
  readonly code = 'INVALID_TRANSITION';
  constructor(
    readonly caseId: string,
    readonly from: CaseState,
    readonly to: string,
  ) {
    super(`case ${caseId}: cannot go from ${from} to ${to} (allowed: ${CASE_TRANSITIONS[from].join(', ') || 'none, the case is final'})`);
  }
}

/** Deterministic: the same episode key always names the same case, even across retries. */
export function caseIdFor(idempotencyKey: string): string {
  return `case_${createHash('sha1').update(idempotencyKey).digest('hex').slice(0, 20)}`;
}

export function canTransition(from: CaseState, to: CaseState): boolean {
  return CASE_TRANSITIONS[from].includes(to);
}

export function isCaseState(s: string): s is CaseState {
  return (CASE_STATES as readonly string[]).includes(s);
}

/** Hour of day (0..23) of an instant in a time zone. */
export function localHour(epochMs: number, timeZone: string): number {
  return localTime(epochMs, timeZone).hour;
}

/** Local calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(epochMs: number, timeZone: string): string {
  return localTime(epochMs, timeZone).day;
}

export interface CaseEvent {
  type: 'created' | 'merged' | 'transition' | 'evidence';
  caseId: string;
  cameraId: string;
  state: CaseState;
  from?: CaseState;
}

export interface HotSpot {
  cameraId: string;
  zoneId: string | null;
  count: number;
  byClass: Record<string, number>;
  /** Hour of day (camera's time zone) with the most cases. */
  peakHour: number;
}

export interface TrendRow {
  classId: string;
  cameraId: string;
  zoneId: string | null;
  thisWeek: number;
  lastWeek: number;
  /** (thisWeek - lastWeek) / lastWeek; null when last week had none. */
  change: number | null;
}

export interface MatrixRow {
  classId: string;
  cameraId: string;
  zoneId: string | null;
  day: string;
  hour: number;
  count: number;
}

export interface CaseStoreOptions {
  /** Live feed of changes (optional: without it nothing is published). */
  redis?: Redis | null;
  prefix?: string;
  conventions?: CaseConventions;
  /** Durable local journal for writes while the database is unreachable (workers set this). */
  outbox?: CaseOutbox | null;
  /** Pause between flush attempts while the database is down (default 2000 ms). */
  outboxRetryMs?: number;
  /**
   * Runs inside the transaction that inserts a new case, so what it writes commits with the case or
   * not at all (the worker records the case's `case.created` webhook delivery here: transactional outbox).
   */
  onCreateTx?: (trx: Transaction<any>, rec: CaseRecord) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

const MAX_RETRIES = 5;

type Row = Record<string, unknown>;
type Exec = Db | Transaction<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const RECORD_SQL = (where: RawBuilder<unknown>) => sql`
  select c.*,
    coalesce((select json_agg(json_build_object('at', h.at, 'kind', h.kind, 'from', h.from_state, 'to', h.to_state, 'reason', h.reason, 'actor', h.actor, 'details', h.details) order by h.seq) from case_history h where h.case_id = c.id), '[]') as history_rows,
    coalesce((select json_agg(e.ref order by e.seq) from case_evidence e where e.case_id = c.id), '[]') as evidence_rows,
    coalesce((select json_agg(p.episode_key order by p.seq) from case_episodes p where p.case_id = c.id), '[]') as episode_rows
  from cases c ${where}`;

function toRecord(r: Row): CaseRecord {
  const doc = r.doc as Partial<CaseRecord>;
  const history = (
    r.history_rows as Array<{
      at: number;
      kind: string;
      from: CaseState | null;
      to: CaseState;
      reason: string | null;
      actor: string | null;
      details: MergeDetails | null;
    }>
  ).map((h) => {
    const e: CaseHistoryEntry = { at: Number(h.at), from: h.from, to: h.to, kind: h.kind as CaseHistoryEntry['kind'] };
    if (h.reason !== null) e.reason = h.reason;
    if (h.actor !== null) e.actor = h.actor;
    if (h.kind === 'merge' && h.details) e.merge = h.details;
    return e;
  });
  const rec = {
    ...doc,
    id: String(r.id),
    idempotencyKey: String(r.idempotency_key),
    episodeKeys: r.episode_rows as string[],
    cameraId: String(r.camera_id),
    classId: String(r.class_id),
    zoneId: (r.zone_id as string | null) ?? null,
    state: r.state as CaseState,
    categoryCode: (r.category_code as string | null) ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    firstSeenAt: Number(r.first_seen_at),
    lastSeenAt: Number(r.last_seen_at),
    dueAt: Number(r.due_at),
    evidenceStatus: r.evidence_status as CaseRecord['evidenceStatus'],
    reappearances: Number(r.reappearances),
    evidence: r.evidence_rows as EvidenceRef[],
    history,
  } as CaseRecord;
  return rec;
}

/** The part of a record kept as the jsonb document (everything not a column or a child row). */
function docOf(c: CaseRecord): Record<string, unknown> {
  const {
    id: _i,
    idempotencyKey: _k,
    episodeKeys: _e,
    cameraId: _c,
    classId: _cl,
    zoneId: _z,
    state: _s,
    categoryCode: _cc,
    createdAt: _ca,
    updatedAt: _u,
    firstSeenAt: _f,
    lastSeenAt: _l,
    dueAt: _d,
    evidenceStatus: _es,
    reappearances: _r,
    evidence: _ev,
    history: _h,
    ...doc
  } = c;
  return doc;
}

/**
 * Characters of a case's search text kept (migration 0003 indexes it in a B-tree, whose entries
 * must stay under ~2.7 KB): far beyond real names (~200 characters), the tail is not searchable.
 */
export const SEARCH_TEXT_MAX = 600;

function searchText(c: CaseRecord): string {
  const text = [
    c.id,
    c.classId,
    c.nameZh,
    c.nameEn,
    c.cameraId,
    c.cameraName,
    c.zoneId,
    c.zoneName,
    c.categoryCode,
    c.category?.majorZh,
    c.category?.minorZh,
    c.responsibleParty,
  ]
    .filter((x): x is string => typeof x === 'string' && x !== '')
    .join(' ')
    .toLowerCase();
  // By code point, as PostgreSQL's left() in the migration (no half surrogate pair).
  return text.length > SEARCH_TEXT_MAX ? [...text].slice(0, SEARCH_TEXT_MAX).join('') : text;
}

function jsonb(v: unknown): RawBuilder<unknown> {
  return sql`${JSON.stringify(v)}::jsonb`;
}

function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
}

export class CaseStore {
  readonly keys: Keys;
  private readonly redis: Redis | null;
  readonly conventions: CaseConventions;
  readonly outbox: CaseOutbox | null;
  private readonly outboxRetryMs: number;
  private readonly onCreateTx: CaseStoreOptions['onCreateTx'];
  private readonly log: NonNullable<CaseStoreOptions['log']>;
  /** Cases created into the outbox by this process, by id (so evidence/touches can follow them). */
  private readonly journaled = new Map<string, CaseRecord>();
  /** Episode key → case id the database gave a journaled creation (it may have been merged). */
  private readonly flushedTo = new Map<string, string>();
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly db: Db,
    opts: CaseStoreOptions = {},
  ) {
    this.keys = new Keys(opts.prefix);
    this.redis = opts.redis ?? null;
    this.conventions = opts.conventions ?? defaultConventions();
    this.outbox = opts.outbox ?? null;
    this.outboxRetryMs = opts.outboxRetryMs ?? 2000;
    this.onCreateTx = opts.onCreateTx;
    this.log = opts.log ?? (() => undefined);
    if (this.outbox && this.outbox.size > 0) this.kick(0);
  }

  /** Entries waiting in the outbox (0 without one). */
  get outboxSize(): number {
    return this.outbox?.size ?? 0;
  }

  /** Stops the outbox flusher (pending entries stay on disk for the next start). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flushing?.catch(() => undefined);
  }

  private kick(delayMs: number): void {
    if (this.closed || this.flushing || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flushing = this.flush()
        .catch((err: Error) => this.log('case outbox flush failed', { error: err.message }))
        .finally(() => {
          this.flushing = null;
          if (this.outbox && this.outbox.size > 0) this.kick(this.outboxRetryMs);
        });
    }, delayMs);
    this.flushTimer.unref?.();
  }

  /** Writes outbox entries to the database in order; stops at the first sign the database is still down. */
  async flush(): Promise<void> {
    const ob = this.outbox;
    if (!ob) return;
    for (let e = ob.peek(); e && !this.closed; e = ob.peek()) {
      try {
        await this.apply(e);
      } catch (err) {
        if (isConnectionError(err)) return;
        // Not a connectivity problem: retrying would block every later entry forever. Say so loudly.
        this.log('case outbox entry could not be written; dropped', { seq: e.seq, kind: e.item.kind, error: (err as Error).message });
      }
      await ob.ack(e.seq);
    }
    if (ob.size === 0 && this.journaled.size) this.journaled.clear();
  }

  private async apply(e: OutboxEntry): Promise<void> {
    const it = e.item;
    if (it.kind === 'create') {
      // What this store journaled in create() below: a CreateCaseInput with its original time.
      const input = it.input as CreateCaseInput & { now: number };
      const r = await this.createInDb(input);
      this.flushedTo.set(input.idempotencyKey, r.case.id);
      return;
    }
    const id = (it.episodeKey && this.flushedTo.get(it.episodeKey)) || it.caseId;
    if (it.kind === 'evidence') await this.addEvidenceInDb(id, it.refs, it.status);
    else await this.update(id, (c) => ({ ...c, lastSeenAt: Math.max(c.lastSeenAt, it.lastSeenAt) }));
  }

  /** Whether a write should go to the outbox: it is already queueing (order), or the database is down. */
  private async viaOutbox<T>(inDb: () => Promise<T>, journal: () => Promise<T>, canJournal = true): Promise<T> {
    if (!this.outbox || !canJournal) return inDb();
    if (this.outbox.size > 0) return journal();
    try {
      return await inDb();
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.log('database unreachable; case write goes to the outbox', { error: (err as Error).message });
      return journal();
    }
  }

  /** Pub/sub channel of case changes (best-effort live feed; the database is the truth). */
  get channel(): string {
    return this.keys.k('events', 'cases');
  }

  private async publish(ev: CaseEvent): Promise<void> {
    if (this.redis) await this.redis.publish(this.channel, JSON.stringify(ev)).catch(() => undefined);
  }

  private async readOne(ex: Exec, where: RawBuilder<unknown>): Promise<CaseRecord | null> {
    const { rows } = await RECORD_SQL(where).execute(ex);
    return rows[0] ? toRecord(rows[0] as Row) : null;
  }

  async get(id: string): Promise<CaseRecord | null> {
    return this.readOne(this.db, sql`where c.id = ${id}`);
  }

  /** The case an episode key maps to, if any. */
  async getByEpisode(idempotencyKey: string): Promise<CaseRecord | null> {
    const local = this.journaled.get(caseIdFor(idempotencyKey));
    if (local && this.outboxSize > 0) return structuredClone(local);
    return this.readOne(this.db, sql`where c.id = (select case_id from case_episodes where episode_key = ${idempotencyKey})`);
  }

  /** Builds the record a new case would have (pure; also what the outbox journals). */
  buildRecord(input: CreateCaseInput): CaseRecord {
    if (!input.idempotencyKey) throw new Error('case: idempotencyKey is required');
    const def = getClass(input.classId);
    const now = input.now ?? Date.now();
    const timezone = input.timezone ?? 'Asia/Shanghai';
    const category = this.conventions.category(def.id);
    const due = this.conventions.due(def.id, now, timezone);
    const rec: CaseRecord = {
      id: caseIdFor(input.idempotencyKey),
      idempotencyKey: input.idempotencyKey,
      episodeKeys: [input.idempotencyKey],
      cameraId: input.cameraId,
      timezone,
      classId: def.id,
      nameZh: def.nameZh,
      nameEn: def.nameEn,
      urgency: def.urgency,
      dueHours: due.dueHours,
      dueAt: due.dueAt,
      zoneId: input.zoneId,
      zoneType: input.zoneType,
      responsibleParty: def.responsibleParty,
      state: 'new',
      createdAt: now,
      updatedAt: now,
      firstSeenAt: input.firstSeenAt,
      lastSeenAt: input.lastSeenAt,
      boxes: input.boxes,
      reason: input.reason,
      evidence: [],
      evidenceStatus: 'pending',
      reappearances: 0,
      history: [{ at: now, from: null, to: 'new', reason: input.reason.note ?? 'confirmed', actor: 'system', kind: 'created' }],
      categoryCode: category?.code ?? null,
      category: category ?? null,
      timeLimit: due.limit,
    };
    if (input.cameraName) rec.cameraName = input.cameraName;
    if (input.zoneName) rec.zoneName = input.zoneName;
    if (input.extras) rec.extras = input.extras;
    return rec;
  }

  /**
   * Creates the case for an episode, exactly once per idempotency key. Returns the existing case on
   * a replay, or the open case the sighting was merged into.
   */
  async create(input: CreateCaseInput): Promise<{ case: CaseRecord; outcome: CreateOutcome }> {
    const fixed = { ...input, now: input.now ?? Date.now() };
    return this.viaOutbox(
      () => this.createInDb(fixed),
      async () => {
        const known = this.journaled.get(caseIdFor(fixed.idempotencyKey));
        if (known) return { case: structuredClone(known), outcome: 'existing' as const };
        const rec = this.buildRecord(fixed);
        await this.outbox!.add({ kind: 'create', input: fixed });
        this.journaled.set(rec.id, rec);
        this.kick(this.outboxRetryMs);
        return { case: structuredClone(rec), outcome: 'created' as const };
      },
    );
  }

  private async createInDb(input: CreateCaseInput): Promise<{ case: CaseRecord; outcome: CreateOutcome }> {
    const rec = this.buildRecord(input);
    const now = rec.createdAt;
    const lockKey = `${input.cameraId}|${rec.classId}|${input.zoneId ?? ''}`;
    let lastErr: unknown;
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      try {
        const res = await this.db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtext(${lockKey}))`.execute(trx);
          const ex = await sql<{ case_id: string }>`select case_id from case_episodes where episode_key = ${input.idempotencyKey}`.execute(
            trx,
          );
          if (ex.rows[0]) return { outcome: 'existing' as const, id: ex.rows[0].case_id };
          const target = await this.mergeTarget(trx, input, rec.classId);
          if (target) {
            const details = mergeDetails({
              rule: 'overlap',
              episodeKey: input.idempotencyKey,
              iou: target.iou,
              minIou: input.mergeIou ?? MERGE_IOU,
              windowMs: input.mergeWindowMs,
              caseLastSeenAt: target.lastSeenAt,
              firstSeenAt: input.firstSeenAt,
              lastSeenAt: input.lastSeenAt,
              reason: input.reason,
            });
            await sql`insert into case_episodes (episode_key, case_id, at) values (${input.idempotencyKey}, ${target.id}, ${now})`.execute(
              trx,
            );
            await sql`update cases set last_seen_at = greatest(last_seen_at, ${input.lastSeenAt}), reappearances = reappearances + 1,
                doc = jsonb_set(doc, '{boxes}', ${jsonb(input.boxes)}), updated_at = ${now}, rev = rev + 1 where id = ${target.id}`.execute(
              trx,
            );
            await sql`insert into case_history (case_id, at, kind, from_state, to_state, reason, actor, details)
                values (${target.id}, ${now}, 'merge', ${target.state}, ${target.state}, ${mergeNote(details)}, 'system', ${jsonb(details)})`.execute(
              trx,
            );
            return { outcome: 'merged' as const, id: target.id };
          }
          await this.insertNew(trx, rec);
          await this.onCreateTx?.(trx, rec);
          return { outcome: 'created' as const, id: rec.id };
        });
        const stored = await this.get(res.id);
        if (!stored) throw new Error(`case ${res.id} vanished while being created`);
        if (res.outcome !== 'existing')
          await this.publish({ type: res.outcome, caseId: stored.id, cameraId: stored.cameraId, state: stored.state });
        return { case: stored, outcome: res.outcome };
      } catch (err) {
        // A unique violation means another writer got there first between our check and insert
        // (only possible for a key whose camera/class/zone differ, i.e. a caller bug, or a case id
        // collision): retry, which answers 'existing'.
        if ((err as { code?: string }).code === '23505') {
          lastErr = err;
          continue;
        }
        throw err;
      }
    }
    throw new Error(`case for ${input.idempotencyKey}: gave up after ${MAX_RETRIES} attempts: ${(lastErr as Error)?.message}`);
  }

  /** Inserts a fully built new case (also used by the outbox replay, which carries the built record). */
  async insertNew(trx: Exec, rec: CaseRecord): Promise<void> {
    await sql`insert into cases (id, idempotency_key, camera_id, class_id, zone_id, state, category_code, created_at, updated_at, first_seen_at, last_seen_at,
        due_at, local_hour, local_day, evidence_status, reappearances, rev, search, doc)
      values (${rec.id}, ${rec.idempotencyKey}, ${rec.cameraId}, ${rec.classId}, ${rec.zoneId}, ${rec.state}, ${rec.categoryCode ?? null}, ${rec.createdAt}, ${rec.updatedAt},
        ${rec.firstSeenAt}, ${rec.lastSeenAt}, ${rec.dueAt}, ${localHour(rec.firstSeenAt, rec.timezone)}, ${localDay(rec.firstSeenAt, rec.timezone)}, ${rec.evidenceStatus},
        ${rec.reappearances}, 1, ${searchText(rec)}, ${jsonb(docOf(rec))})`.execute(trx);
    await sql`insert into case_episodes (episode_key, case_id, at) values (${rec.idempotencyKey}, ${rec.id}, ${rec.createdAt})`.execute(
      trx,
    );
    const h = rec.history[0]!;
    await sql`insert into case_history (case_id, at, kind, from_state, to_state, reason, actor) values (${rec.id}, ${h.at}, 'created', null, ${h.to}, ${h.reason ?? null}, ${h.actor ?? null})`.execute(
      trx,
    );
  }

  /**
   * Inserts fully built new cases in one transaction, in the given order; ones whose episode key is
   * already known are skipped (so a replay of a journal never duplicates). Returns the ids inserted.
   * This is the outbox replay path and the bench's seeding path; it does not merge.
   */
  async insertMany(recs: readonly CaseRecord[], opts: { skipExistingCheck?: boolean } = {}): Promise<string[]> {
    if (recs.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      let todo = recs;
      if (!opts.skipExistingCheck) {
        const { rows } = await sql<{ episode_key: string }>`select episode_key from case_episodes
          where episode_key in (select value from json_array_elements_text(${JSON.stringify(recs.map((r) => r.idempotencyKey))}::json))`.execute(
          trx,
        );
        const known = new Set(rows.map((r) => r.episode_key));
        todo = recs.filter((r) => !known.has(r.idempotencyKey));
      }
      if (todo.length === 0) return [];
      // Each table gets one statement whose single parameter is a JSON array of rows
      // (json_to_recordset): no bind-parameter limit, one parse, the same SQL on PostgreSQL and PGlite.
      const caseRows = todo.map((r) => ({
        id: r.id,
        idempotency_key: r.idempotencyKey,
        camera_id: r.cameraId,
        class_id: r.classId,
        zone_id: r.zoneId,
        state: r.state,
        category_code: r.categoryCode ?? null,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
        first_seen_at: r.firstSeenAt,
        last_seen_at: r.lastSeenAt,
        due_at: r.dueAt,
        local_hour: localHour(r.firstSeenAt, r.timezone),
        local_day: localDay(r.firstSeenAt, r.timezone),
        evidence_status: r.evidenceStatus,
        reappearances: r.reappearances,
        search: searchText(r),
        doc: docOf(r),
      }));
      await sql`insert into cases (id, idempotency_key, camera_id, class_id, zone_id, state, category_code, created_at, updated_at, first_seen_at, last_seen_at,
          due_at, local_hour, local_day, evidence_status, reappearances, rev, search, doc)
        select id, idempotency_key, camera_id, class_id, zone_id, state, category_code, created_at, updated_at, first_seen_at, last_seen_at,
          due_at, local_hour, local_day, evidence_status, reappearances, 1, search, doc
        from json_to_recordset(${JSON.stringify(caseRows)}::json) as x(id text, idempotency_key text, camera_id text, class_id text, zone_id text, state text,
          category_code text, created_at bigint, updated_at bigint, first_seen_at bigint, last_seen_at bigint, due_at bigint, local_hour smallint, local_day date,
          evidence_status text, reappearances integer, search text, doc jsonb)`.execute(trx);
      await sql`insert into case_episodes (episode_key, case_id, at)
        select k, c, a from json_to_recordset(${JSON.stringify(todo.map((r) => ({ k: r.idempotencyKey, c: r.id, a: r.createdAt })))}::json) as x(k text, c text, a bigint)`.execute(
        trx,
      );
      const hist = todo.flatMap((r) =>
        r.history.map((h) => ({
          c: r.id,
          at: h.at,
          k: h.kind ?? (h.from === null ? 'created' : 'transition'),
          f: h.from,
          t: h.to,
          r: h.reason ?? null,
          a: h.actor ?? null,
          d: h.merge ?? null,
        })),
      );
      if (hist.length) {
        await sql`insert into case_history (case_id, at, kind, from_state, to_state, reason, actor, details)
          select c, at, k, f, t, r, a, d from json_to_recordset(${JSON.stringify(hist)}::json) as x(c text, at bigint, k text, f text, t text, r text, a text, d jsonb)`.execute(
          trx,
        );
      }
      const ev = todo.flatMap((r) => r.evidence.map((e) => ({ c: r.id, k: e.key, a: r.updatedAt, e })));
      if (ev.length) {
        await sql`insert into case_evidence (case_id, key, added_at, ref)
          select c, k, a, e from json_to_recordset(${JSON.stringify(ev)}::json) as x(c text, k text, a bigint, e jsonb) on conflict do nothing`.execute(
          trx,
        );
      }
      return todo.map((r) => r.id);
    });
  }

  private async mergeTarget(
    trx: Exec,
    input: CreateCaseInput,
    classId: string,
  ): Promise<{ id: string; state: CaseState; lastSeenAt: number; iou: number } | null> {
    if (!(input.mergeWindowMs > 0)) return null;
    // A sighting joins a case last seen at most mergeWindowMs before the sighting's first (or last) frame.
    const since = Math.min(input.firstSeenAt, input.lastSeenAt) - input.mergeWindowMs;
    const { rows } = await sql<{ id: string; state: CaseState; last_seen_at: number; boxes: Box[] }>`
      select id, state, last_seen_at, doc->'boxes' as boxes from cases
      where camera_id = ${input.cameraId} and class_id = ${classId} and zone_id is not distinct from ${input.zoneId}
        and state in ('new', 'dispatched', 'reopened') and last_seen_at >= ${since}
      for update`.execute(trx);
    let best: { id: string; state: CaseState; lastSeenAt: number; iou: number } | null = null;
    for (const r of rows) {
      const v = mergeIouOf(r.boxes ?? [], input.boxes, input.mergeIou ?? MERGE_IOU);
      if (v !== null && (!best || v > best.iou)) best = { id: r.id, state: r.state, lastSeenAt: Number(r.last_seen_at), iou: v };
    }
    return best;
  }

  /**
   * Applies `mutate` to the locked row in one transaction. `mutate` may throw to refuse (e.g. an
   * invalid transition) and must be pure over its argument. A changed state is validated here (the
   * one place) and gets a history entry if the caller did not add one; new history entries,
   * evidence references and a changed verification are appended as rows.
   */
  async update(id: string, mutate: (c: CaseRecord) => CaseRecord): Promise<CaseRecord> {
    const next = await this.db.transaction().execute(async (trx) => {
      const cur = await this.readOne(trx, sql`where c.id = ${id} for update of c`);
      if (!cur) throw new CaseNotFoundError(`case ${id} not found`);
      const n = mutate(structuredClone(cur));
      n.updatedAt = Date.now();
      if (n.state !== cur.state) {
        if (!isCaseState(n.state) || !canTransition(cur.state, n.state)) throw new CaseTransitionError(id, cur.state, n.state);
        if (n.history.length === cur.history.length) n.history.push({ at: n.updatedAt, from: cur.state, to: n.state, kind: 'transition' });
      }
      await sql`update cases set state = ${n.state}, updated_at = ${n.updatedAt}, first_seen_at = ${n.firstSeenAt}, last_seen_at = ${n.lastSeenAt}, due_at = ${n.dueAt},
          evidence_status = ${n.evidenceStatus}, reappearances = ${n.reappearances}, rev = rev + 1, search = ${searchText(n)}, doc = ${jsonb(docOf(n))}
        where id = ${id}`.execute(trx);
      for (const h of n.history.slice(cur.history.length)) {
        await sql`insert into case_history (case_id, at, kind, from_state, to_state, reason, actor, details)
          values (${id}, ${h.at}, ${h.kind ?? 'transition'}, ${h.from}, ${h.to}, ${h.reason ?? null}, ${h.actor ?? null}, ${h.merge ? jsonb(h.merge) : null})`.execute(
          trx,
        );
      }
      const have = new Set(cur.evidence.map((e) => e.key));
      for (const e of n.evidence) {
        if (have.has(e.key)) continue;
        have.add(e.key);
        await sql`insert into case_evidence (case_id, key, added_at, ref) values (${id}, ${e.key}, ${n.updatedAt}, ${jsonb(e)}) on conflict do nothing`.execute(
          trx,
        );
      }
      if (n.verification && JSON.stringify(n.verification) !== JSON.stringify(cur.verification)) {
        await sql`insert into case_verifications (case_id, at, result, presence_ratio, doc)
          values (${id}, ${n.updatedAt}, ${n.verification.result ?? null}, ${n.verification.presenceRatio}, ${jsonb(n.verification)})`.execute(
          trx,
        );
      }
      return n;
    });
    return (await this.get(id)) ?? next;
  }

  /**
   * The same episode came back after it had cleared (case policy 'merge', rule 'resumed'): one more
   * reappearance, the newest boxes, and a 'merge' history entry with the details.
   */
  async addReappearance(id: string, details: MergeDetails, boxes: Box[]): Promise<CaseRecord> {
    return this.update(id, (c) => ({
      ...c,
      lastSeenAt: Math.max(c.lastSeenAt, details.lastSeenAt),
      reappearances: c.reappearances + 1,
      boxes,
      history: [
        ...c.history,
        { at: Date.now(), from: c.state, to: c.state, kind: 'merge', reason: mergeNote(details), actor: 'system', merge: details },
      ],
    }));
  }

  /** Moves a case to another state, refusing transitions the life cycle does not allow. */
  async transition(
    id: string,
    to: CaseState,
    opts: { reason?: string; actor?: string; expectFrom?: CaseState; verification?: CaseVerification } = {},
  ): Promise<CaseRecord> {
    if (!isCaseState(to)) throw new CaseTransitionError(id, 'new', to);
    let from: CaseState = 'new';
    const rec = await this.update(id, (c) => {
      from = c.state;
      if (opts.expectFrom && c.state !== opts.expectFrom) throw new CaseTransitionError(id, c.state, to);
      if (!canTransition(c.state, to)) throw new CaseTransitionError(id, c.state, to);
      const entry: CaseHistoryEntry = { at: Date.now(), from: c.state, to, kind: 'transition' };
      if (opts.reason) entry.reason = opts.reason;
      if (opts.actor) entry.actor = opts.actor;
      c.history.push(entry);
      c.state = to;
      if (opts.verification) c.verification = opts.verification;
      return c;
    });
    await this.publish({ type: 'transition', caseId: id, cameraId: rec.cameraId, state: to, from });
    return rec;
  }

  /** Adds evidence references (idempotent per key) and updates the evidence status. */
  async addEvidence(id: string, refs: EvidenceRef[], status: CaseRecord['evidenceStatus'] = 'ready'): Promise<CaseRecord> {
    const local = this.journaled.get(id);
    return this.viaOutbox(
      () => this.addEvidenceInDb(id, refs, status),
      async () => {
        await this.outbox!.add({ kind: 'evidence', caseId: id, episodeKey: local!.idempotencyKey, refs, status });
        this.kick(this.outboxRetryMs);
        const have = new Set(local!.evidence.map((e) => e.key));
        for (const r of refs) if (!have.has(r.key)) local!.evidence.push(r);
        if (!(local!.evidenceStatus === 'ready' && status !== 'ready')) local!.evidenceStatus = status;
        return structuredClone(local!);
      },
      // Only a case this process journaled is known well enough to answer without the database;
      // for any other the caller's retry (the evidence queue) waits for the database.
      local !== undefined,
    );
  }

  private async addEvidenceInDb(id: string, refs: EvidenceRef[], status: CaseRecord['evidenceStatus']): Promise<CaseRecord> {
    const rec = await this.update(id, (c) => {
      const have = new Set(c.evidence.map((e) => e.key));
      for (const r of refs) if (!have.has(r.key)) c.evidence.push(r);
      // Once some evidence is in, a later failed attempt does not downgrade the case.
      if (!(c.evidenceStatus === 'ready' && status !== 'ready')) c.evidenceStatus = status;
      return c;
    });
    await this.publish({ type: 'evidence', caseId: id, cameraId: rec.cameraId, state: rec.state });
    return rec;
  }

  /** Records the latest sighting (e.g. when the episode clears). */
  async touch(id: string, lastSeenAt: number): Promise<CaseRecord> {
    const local = this.journaled.get(id);
    return this.viaOutbox(
      () => this.update(id, (c) => ({ ...c, lastSeenAt: Math.max(c.lastSeenAt, lastSeenAt) })),
      async () => {
        await this.outbox!.add({ kind: 'touch', caseId: id, episodeKey: local!.idempotencyKey, lastSeenAt });
        this.kick(this.outboxRetryMs);
        local!.lastSeenAt = Math.max(local!.lastSeenAt, lastSeenAt);
        return structuredClone(local!);
      },
      local !== undefined,
    );
  }

  /**
   * Case ids currently in a state, per camera, for a set of cameras in ONE query (verification asks
   * once per round for all the cameras a worker holds, not once per camera). Every requested camera
   * is in the map (an empty list when it has none); ids are in id order. Served by the
   * cases_state_camera index (camera_id, state). An empty camera list returns an empty map without a query.
   */
  async idsInStateByCamera(state: CaseState, cameraIds: readonly string[]): Promise<Map<string, string[]>> {
    const cams = [...new Set(cameraIds)];
    if (cams.length === 0) return new Map();
    // One array parameter: the same statement whatever the number of cameras.
    const { rows } = await sql<CameraIdRow>`select camera_id, id from cases where camera_id = any(${cams}::text[]) and state = ${state}
      order by camera_id, id`.execute(this.db);
    return groupIdsByCamera(cams, rows);
  }

  private where(filters: CaseFilters, extra: RawBuilder<unknown>[] = []): RawBuilder<unknown> {
    const conds: RawBuilder<unknown>[] = [...extra];
    if (filters.classId) conds.push(sql`class_id = ${filters.classId}`);
    if (filters.cameraId) conds.push(sql`camera_id = ${filters.cameraId}`);
    if (filters.zoneId) conds.push(sql`zone_id = ${filters.zoneId}`);
    if (filters.categoryCode) conds.push(sql`category_code = ${filters.categoryCode}`);
    if (filters.state !== undefined) {
      const states = Array.isArray(filters.state) ? filters.state : [filters.state];
      conds.push(states.length === 1 ? sql`state = ${states[0]}` : sql`state in (${sql.join(states)})`);
    }
    if (filters.from !== undefined) conds.push(sql`created_at >= ${filters.from}`);
    if (filters.to !== undefined) conds.push(sql`created_at <= ${filters.to}`);
    if (filters.q) conds.push(sql`search like ${likePattern(filters.q)}`);
    return conds.length ? sql`where ${sql.join(conds, sql` and `)}` : sql``;
  }

  /**
   * Newest first (createdAt, then id, both descending: a total order), keyset-paged: `cursor` is
   * the last (createdAt, id) of the previous page, so a page costs the same at any depth.
   */
  async list(filters: CaseFilters = {}, page: { limit?: number; cursor?: string | null } = {}): Promise<CasePage> {
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 500);
    const { rows } = await this.listQuery(filters, page).execute(this.db);
    const items = rows.slice(0, limit).map(toRecord);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
  }

  /** The list's SQL (public so the bench can EXPLAIN it). */
  listQuery(filters: CaseFilters = {}, page: { limit?: number; cursor?: string | null } = {}): RawBuilder<Row> {
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 500);
    const after = page.cursor ? decodeCursor(page.cursor) : null;
    const where = this.where(filters, after ? [sql`(created_at, id) < (${after.createdAt}, ${after.id})`] : []);
    return sql<Row>`
      with page as (select id, created_at from cases ${where} order by created_at desc, id desc limit ${limit + 1})
      ${RECORD_SQL(sql`join page using (id) order by page.created_at desc, page.id desc`)}`;
  }

  /**
   * Counts per class, camera, zone, state, category and hour of day for cases created in [from, to],
   * from the rollups (whole 32-day blocks and days) plus the cases of the partial days at the edges.
   */
  async stats(range: { from?: number; to?: number } = {}): Promise<CaseStats> {
    const out: CaseStats = {
      from: range.from ?? null,
      to: range.to ?? null,
      total: 0,
      byClass: {},
      byCamera: {},
      byZone: {},
      byState: {},
      byCategory: {},
      byHour: new Array(24).fill(0),
    };
    const split = splitRange(range.from, range.to);
    const { rows } = await sql<{ g: string; k1: string | null; k2: string | null; n: number }>`
      with p as (${rollupParts(split)})
      select case when grouping(class_id) = 0 then 'class' when grouping(zone_id) = 0 then 'zone' when grouping(camera_id) = 0 then 'camera'
          when grouping(state) = 0 then 'state' when grouping(category_code) = 0 then 'category' else 'total' end as g,
        coalesce(class_id, camera_id, state, category_code) as k1, zone_id as k2, sum(n)::int as n
      from p group by grouping sets ((class_id), (camera_id), (camera_id, zone_id), (state), (category_code), ())
      having sum(n) <> 0`.execute(this.db);
    for (const r of rows) {
      const n = Number(r.n);
      if (r.g === 'total') out.total = n;
      else if (r.g === 'class') out.byClass[r.k1!] = n;
      else if (r.g === 'camera') out.byCamera[r.k1!] = n;
      else if (r.g === 'zone') out.byZone[`${r.k1}/${r.k2 || '-'}`] = n;
      else if (r.g === 'state') out.byState[r.k1!] = n;
      else if (r.g === 'category') {
        if (r.k1) out.byCategory[r.k1] = n;
      }
    }
    const hours = await sql<{ h: number; n: number }>`
      with p as (${hourParts(split, 'case_hour_totals', sql`local_hour, n`, sql`local_hour, 1 as n`)})
      select local_hour as h, sum(n)::int as n from p group by local_hour`.execute(this.db);
    for (const r of hours.rows) out.byHour[Number(r.h)] = Number(r.n);
    return out;
  }

  /** The top-N camera zones by number of cases in [from, to] (高发区域), with their classes and peak hour. */
  async hotSpots(q: { from?: number; to?: number; classId?: string; top?: number } = {}): Promise<HotSpot[]> {
    const top = Math.min(Math.max(q.top ?? 10, 1), 100);
    const split = splitRange(q.from, q.to);
    const cls = q.classId ? sql`class_id = ${q.classId}` : null;
    // The peak hour reads case_hour_counts (led by camera and zone) for the top-N zones only.
    const { rows } = await sql<{
      camera_id: string;
      zone_id: string;
      class_id: string | null;
      local_hour: number | null;
      n: number;
      total: number;
    }>`
      with p as (${rollupParts(split, cls)}),
      spots as (
        select camera_id, zone_id, sum(n)::int as total from p group by camera_id, zone_id having sum(n) > 0
        order by total desc, camera_id, nullif(zone_id, '') limit ${top}
      ),
      h as (${hourParts(split, 'case_hour_counts', sql`camera_id, zone_id, local_hour, n`, sql`camera_id, coalesce(zone_id, '') as zone_id, local_hour, 1 as n`, sql`(camera_id, zone_id) in (select camera_id, zone_id from spots)`, sql`(camera_id, coalesce(zone_id, '')) in (select camera_id, zone_id from spots)`, cls)})
      select s.camera_id, s.zone_id, s.total, x.class_id, null::int as local_hour, x.n
        from spots s join (select camera_id, zone_id, class_id, sum(n)::int as n from p join spots using (camera_id, zone_id) group by camera_id, zone_id, class_id having sum(n) <> 0) x using (camera_id, zone_id)
      union all
      select s.camera_id, s.zone_id, s.total, null, y.local_hour, y.n
        from spots s join (select camera_id, zone_id, local_hour, sum(n)::int as n from h group by camera_id, zone_id, local_hour) y using (camera_id, zone_id)`.execute(
      this.db,
    );
    const byKey = new Map<string, HotSpot & { hours: number[] }>();
    for (const r of rows) {
      const k = `${r.camera_id}\u0000${r.zone_id}`;
      let h = byKey.get(k);
      if (!h)
        byKey.set(
          k,
          (h = {
            cameraId: r.camera_id,
            zoneId: r.zone_id === '' ? null : r.zone_id,
            count: Number(r.total),
            byClass: {},
            peakHour: 0,
            hours: new Array(24).fill(0),
          }),
        );
      if (r.class_id !== null) h.byClass[r.class_id] = Number(r.n);
      else if (r.local_hour !== null) h.hours[Number(r.local_hour)] = Number(r.n);
    }
    return [...byKey.values()]
      .map(({ hours, ...h }) => ({ ...h, peakHour: hours.indexOf(Math.max(...hours)) }))
      .sort((a, b) => b.count - a.count || a.cameraId.localeCompare(b.cameraId) || zoneOrder(a.zoneId, b.zoneId));
  }

  /** Week over week per class and camera zone: the 7 days before `at` against the 7 before that. */
  async trend(q: { at?: number; classId?: string; top?: number } = {}): Promise<{ from: number; to: number; rows: TrendRow[] }> {
    const to = q.at ?? Date.now();
    const week = 7 * 86_400_000;
    const from = to - 2 * week;
    const top = Math.min(Math.max(q.top ?? 20, 1), 500);
    const cls = q.classId ? sql`class_id = ${q.classId}` : null;
    const { rows } = await sql<{ class_id: string; camera_id: string; zone_id: string; this_week: number; last_week: number }>`
      with p as (
        select 1 as w, camera_id, zone_id, class_id, n from (${rollupParts(splitRange(to - week + 1, to), cls)}) a
        union all
        select 0, camera_id, zone_id, class_id, n from (${rollupParts(splitRange(from + 1, to - week), cls)}) b
      )
      select class_id, camera_id, zone_id, coalesce(sum(n) filter (where w = 1), 0)::int as this_week, coalesce(sum(n) filter (where w = 0), 0)::int as last_week
      from p group by class_id, camera_id, zone_id having sum(n) filter (where w = 1) <> 0 or sum(n) filter (where w = 0) <> 0
      order by this_week desc, last_week desc, class_id, camera_id, nullif(zone_id, '') limit ${top}`.execute(this.db);
    return {
      from,
      to,
      rows: rows.map((r) => ({
        classId: r.class_id,
        cameraId: r.camera_id,
        zoneId: r.zone_id === '' ? null : r.zone_id,
        thisWeek: Number(r.this_week),
        lastWeek: Number(r.last_week),
        change:
          Number(r.last_week) > 0 ? Math.round(((Number(r.this_week) - Number(r.last_week)) / Number(r.last_week)) * 1000) / 1000 : null,
      })),
    };
  }

  /** Counts per class × camera zone × local day × hour of day over [from, to] (non-zero cells only). */
  async matrix(q: { from?: number; to?: number; classId?: string; cameraId?: string; limit?: number } = {}): Promise<MatrixRow[]> {
    const limit = Math.min(Math.max(q.limit ?? 10_000, 1), 100_000);
    const { rows } = await sql<{ class_id: string; camera_id: string; zone_id: string | null; day: string; local_hour: number; n: number }>`
      select class_id, camera_id, zone_id, local_day::text as day, local_hour, count(*)::int as n
      from cases ${this.where({ from: q.from, to: q.to, classId: q.classId, cameraId: q.cameraId })}
      group by class_id, camera_id, zone_id, local_day, local_hour
      order by local_day, local_hour, class_id, camera_id, zone_id limit ${limit}`.execute(this.db);
    return rows.map((r) => ({
      classId: r.class_id,
      cameraId: r.camera_id,
      zoneId: r.zone_id,
      day: r.day,
      hour: Number(r.local_hour),
      count: Number(r.n),
    }));
  }

  /** Cases in a non-terminal state (OPEN_STATES) per camera, in one grouped query; cameras without any are absent. */
  async openCountsByCamera(cameraIds?: readonly string[]): Promise<Map<string, number>> {
    if (cameraIds && cameraIds.length === 0) return new Map();
    const { rows } = await sql<{ camera_id: string; n: number }>`
      select camera_id, count(*)::int as n from cases
      where state in (${sql.join(OPEN_STATES)}) ${cameraIds ? sql`and camera_id in (${sql.join(cameraIds)})` : sql``}
      group by camera_id`.execute(this.db);
    return new Map(rows.map((r) => [r.camera_id, Number(r.n)]));
  }

  /**
   * Per camera × class × zone, for cases created in [from, to]: how many, how many were rejected,
   * and the rejection reasons with their counts (from the rejection history entries).
   */
  async rejectionStats(q: { from?: number; to?: number; cameraId?: string; limit?: number } = {}): Promise<RejectionRow[]> {
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10_000);
    const { rows } = await sql<{
      camera_id: string;
      class_id: string;
      zone_id: string | null;
      cases: number;
      rejected: number;
      reasons: { reason: string; count: number }[] | string;
    }>`
      with scope as (
        select id, camera_id, class_id, zone_id, state from cases ${this.where({ from: q.from, to: q.to, cameraId: q.cameraId })}
      ), totals as (
        select camera_id, class_id, zone_id, count(*)::int as cases, count(*) filter (where state = 'rejected')::int as rejected
        from scope group by camera_id, class_id, zone_id
      ), reasons as (
        select s.camera_id, s.class_id, s.zone_id, coalesce(h.reason, '') as reason, count(*)::int as n
        from scope s join case_history h on h.case_id = s.id
        where s.state = 'rejected' and h.to_state = 'rejected'
        group by s.camera_id, s.class_id, s.zone_id, coalesce(h.reason, '')
      )
      select t.camera_id, t.class_id, t.zone_id, t.cases, t.rejected,
        coalesce(json_agg(json_build_object('reason', r.reason, 'count', r.n) order by r.n desc, r.reason) filter (where r.n is not null), '[]'::json) as reasons
      from totals t left join reasons r
        on r.camera_id = t.camera_id and r.class_id = t.class_id and r.zone_id is not distinct from t.zone_id
      group by t.camera_id, t.class_id, t.zone_id, t.cases, t.rejected
      order by t.rejected desc, t.cases desc, t.camera_id, t.class_id, t.zone_id nulls first
      limit ${limit}`.execute(this.db);
    return rows.map((r) => {
      const cases = Number(r.cases);
      const rejected = Number(r.rejected);
      const reasons = (typeof r.reasons === 'string' ? JSON.parse(r.reasons) : r.reasons) as { reason: string; count: number }[];
      return {
        cameraId: r.camera_id,
        classId: r.class_id,
        zoneId: r.zone_id,
        cases,
        rejected,
        rejectionRate: cases > 0 ? Math.round((rejected / cases) * 1000) / 1000 : 0,
        reasons: reasons.map((x) => ({ reason: x.reason, count: Number(x.count) })),
      };
    });
  }

  /** Subscribes to the live feed of case changes on a dedicated connection. Returns an unsubscribe. */
  async subscribe(subscriber: Redis, onEvent: (ev: CaseEvent) => void): Promise<() => Promise<void>> {
    const handler = (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        onEvent(JSON.parse(message) as CaseEvent);
      } catch {
        /* a malformed message is not worth crashing a subscriber */
      }
    };
    subscriber.on('message', handler);
    await subscriber.subscribe(this.channel);
    return async () => {
      subscriber.off('message', handler);
      await subscriber.unsubscribe(this.channel).catch(() => undefined);
    };
  }
}

/** Null zones sort last, as in SQL. */
function zoneOrder(a: string | null, b: string | null): number {
  return a === b ? 0 : a === null ? 1 : b === null ? -1 : a.localeCompare(b);
}

const DAY_MS = 86_400_000;
/** Days per coarse rollup bucket (grain 32 in migration 0002_case_rollups). */
export const ROLLUP_BLOCK_DAYS = 32;

/** How a createdAt range [from, to] (inclusive, epoch ms) is read: whole blocks and days from the rollups, the rest from cases. */
export interface RangeSplit {
  /** [grain, first bucket, end bucket) ranges of rollup rows. */
  buckets: Array<[grain: number, lo: number, hi: number]>;
  /** [lo, hi) createdAt ranges read from the cases themselves (partial days at the edges). */
  direct: Array<[lo: number, hi: number]>;
}

/**
 * Splits [from, to] so that every instant is counted exactly once: whole 32-day blocks, whole UTC
 * days outside them, and the partial days at either edge. Pure.
 */
export function splitRange(from?: number, to?: number): RangeSplit {
  const lo = from ?? -Number.MAX_SAFE_INTEGER;
  const hi = (to ?? Number.MAX_SAFE_INTEGER - 1) + 1;
  const out: RangeSplit = { buckets: [], direct: [] };
  if (hi <= lo) return out;
  const d0 = Math.ceil(lo / DAY_MS);
  const d1 = Math.floor(hi / DAY_MS);
  if (d0 >= d1) {
    out.direct.push([lo, hi]);
    return out;
  }
  if (lo < d0 * DAY_MS) out.direct.push([lo, d0 * DAY_MS]);
  if (d1 * DAY_MS < hi) out.direct.push([d1 * DAY_MS, hi]);
  const b0 = Math.ceil(d0 / ROLLUP_BLOCK_DAYS);
  const b1 = Math.floor(d1 / ROLLUP_BLOCK_DAYS);
  if (b0 < b1) {
    out.buckets.push([ROLLUP_BLOCK_DAYS, b0, b1]);
    if (d0 < b0 * ROLLUP_BLOCK_DAYS) out.buckets.push([1, d0, b0 * ROLLUP_BLOCK_DAYS]);
    if (b1 * ROLLUP_BLOCK_DAYS < d1) out.buckets.push([1, b1 * ROLLUP_BLOCK_DAYS, d1]);
  } else out.buckets.push([1, d0, d1]);
  return out;
}

function andAll(conds: Array<RawBuilder<unknown> | null | undefined>): RawBuilder<unknown> {
  const c = conds.filter((x): x is RawBuilder<unknown> => !!x);
  return c.length ? sql.join(c, sql` and `) : sql`true`;
}

/**
 * Rows (camera_id, zone_id, class_id, state, category_code, n) whose n add up to the cases created
 * in the split range: case_counts for whole buckets, the cases (each n = 1) for partial days.
 * Zone and category are '' for none, as in the rollup.
 */
function rollupParts(split: RangeSplit, cond: RawBuilder<unknown> | null = null): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [
    ...split.buckets.map(
      ([g, lo, hi]) =>
        sql`select camera_id, zone_id, class_id, state, category_code, n from case_counts where ${andAll([sql`grain = ${g} and bucket >= ${lo} and bucket < ${hi}`, cond])}`,
    ),
    ...split.direct.map(
      ([lo, hi]) =>
        sql`select camera_id, coalesce(zone_id, '') as zone_id, class_id, state, coalesce(category_code, '') as category_code, 1 as n from cases where ${andAll([sql`created_at >= ${lo} and created_at < ${hi}`, cond])}`,
    ),
  ];
  return parts.length
    ? sql.join(parts, sql` union all `)
    : sql`select ''::text as camera_id, ''::text as zone_id, ''::text as class_id, ''::text as state, ''::text as category_code, 0 as n where false`;
}

/** Like rollupParts for an hour rollup table: `cols` from it, `caseCols` from cases. */
function hourParts(
  split: RangeSplit,
  table: 'case_hour_counts' | 'case_hour_totals',
  cols: RawBuilder<unknown>,
  caseCols: RawBuilder<unknown>,
  cond: RawBuilder<unknown> | null = null,
  caseCond: RawBuilder<unknown> | null = cond,
  cls: RawBuilder<unknown> | null = null,
): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [
    ...split.buckets.map(
      ([g, lo, hi]) =>
        sql`select ${cols} from ${sql.table(table)} where ${andAll([sql`grain = ${g} and bucket >= ${lo} and bucket < ${hi}`, cond, cls])}`,
    ),
    ...split.direct.map(
      ([lo, hi]) => sql`select ${caseCols} from cases where ${andAll([sql`created_at >= ${lo} and created_at < ${hi}`, caseCond, cls])}`,
    ),
  ];
  return parts.length ? sql.join(parts, sql` union all `) : sql`select ${cols} from ${sql.table(table)} where false`;
}

function encodeCursor(c: { createdAt: number; id: string }): string {
  return Buffer.from(`${c.createdAt}|${c.id}`).toString('base64url');
}

function decodeCursor(s: string): { createdAt: number; id: string } {
  const raw = Buffer.from(s, 'base64url').toString();
  const i = raw.indexOf('|');
  const createdAt = Number(raw.slice(0, i));
  if (i < 0 || !Number.isSafeInteger(createdAt)) throw new Error(`invalid cursor "${s}"`);
  return { createdAt, id: raw.slice(i + 1) };
}

export interface CameraIdRow {
  camera_id: string;
  id: string;
}

/**
 * Pure: rows of (camera_id, id) as a map with one entry per requested camera (in the order asked;
 * an empty list for a camera without rows), each camera's ids in row order. Rows of cameras not
 * asked for are ignored.
 */
export function groupIdsByCamera(cameraIds: readonly string[], rows: readonly CameraIdRow[]): Map<string, string[]> {
  const out = new Map<string, string[]>(cameraIds.map((c) => [c, []]));
  for (const r of rows) out.get(r.camera_id)?.push(r.id);
  return out;
}
