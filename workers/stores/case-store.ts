// Cases: the durable record a confirmed violation episode turns into, and the API the HTTP layer
// and the workers share. Stored in Redis (AOF) so cases survive restarts of any process.
//
// Exactly one case per episode: the episode's idempotency key maps to the case id through a Lua
// script that creates the case and the mapping in one step (a replay returns the existing case).
// A reappearance of the same violation that the rules engine could not tie to its episode (a new
// worker after failover, a new track id after a long occlusion) is merged into the open case of the
// same camera/class/zone whose boxes overlap and which was seen within the merge window.
//
// Updates are optimistic compare-and-set on a revision number, so concurrent writers (a worker
// adding evidence while an operator dispatches the case) never overwrite each other.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { getClass } from '../../pipeline/rules/catalog.js';
import { iou } from '../../pipeline/rules/geometry.js';
import type { Box, EvidenceRef, ReasonRecord, Urgency } from '../../pipeline/types.js';
import { Keys } from '../redis.js';

export const CASE_STATES = ['new', 'dispatched', 'handled', 'verified', 'reopened', 'closed', 'rejected'] as const;
export type CaseState = (typeof CASE_STATES)[number];

/**
 * Allowed transitions. `rejected` = false positive; kept (not deleted) so thresholds can be tuned
 * against it. `handled` only leads to verified/reopened: the camera decides, not the operator.
 */
export const CASE_TRANSITIONS: Readonly<Record<CaseState, readonly CaseState[]>> = {
  new: ['dispatched', 'rejected'],
  dispatched: ['handled', 'rejected'],
  handled: ['verified', 'reopened'],
  verified: ['closed'],
  reopened: ['dispatched', 'handled', 'rejected'],
  closed: [],
  rejected: [],
};

/** States in which a reappearance of the violation adds to the case instead of opening another. */
export const MERGEABLE_STATES: readonly CaseState[] = ['new', 'dispatched', 'reopened'];

export interface CaseHistoryEntry {
  at: number;
  from: CaseState | null;
  to: CaseState;
  reason?: string;
  actor?: string;
}

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
  const h = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit' }).format(new Date(epochMs));
  return Number(h) % 24;
}

// KEYS: 1 episode key, 2 new case key, 3 time index, 4 new-state set of the camera, 5 merge target case key
// ARGV: 1 new case id, 2 new case json, 3 createdAt, 4 mode ('new'|'merge'), 5 target id, 6 target rev, 7 target json
const CREATE_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing then return {'existing', existing} end
if ARGV[4] == 'merge' then
  local rev = redis.call('HGET', KEYS[5], 'rev')
  if rev ~= ARGV[6] then return {'retry', ''} end
  redis.call('HSET', KEYS[5], 'json', ARGV[7], 'rev', tostring(tonumber(rev) + 1))
  redis.call('SET', KEYS[1], ARGV[5])
  return {'merged', ARGV[5]}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1])
  return {'existing', ARGV[1]}
end
redis.call('HSET', KEYS[2], 'json', ARGV[2], 'rev', '1')
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
return {'created', ARGV[1]}
`;

// KEYS: 1 case key, 2 old state set, 3 new state set. ARGV: 1 expected rev, 2 json, 3 case id
const CAS_LUA = `
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return -1 end
if rev ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'rev', tostring(tonumber(rev) + 1))
if KEYS[2] ~= KEYS[3] then
  redis.call('SREM', KEYS[2], ARGV[3])
  redis.call('SADD', KEYS[3], ARGV[3])
end
return 1
`;

const MAX_CAS_RETRIES = 50;
const SCAN_BATCH = 200;

export interface CaseEvent {
  type: 'created' | 'merged' | 'transition' | 'evidence';
  caseId: string;
  cameraId: string;
  state: CaseState;
  from?: CaseState;
}

export class CaseStore {
  readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
  }

  private caseKey(id: string): string {
    return this.keys.k('case', id);
  }
  private episodeKey(key: string): string {
    return this.keys.k('episode', key);
  }
  private stateSet(state: CaseState, cameraId: string): string {
    return this.keys.k('cases', 'state', state, cameraId);
  }
  private get timeIndex(): string {
    return this.keys.k('cases', 'by-created');
  }
  /** Pub/sub channel of case changes (best-effort live feed; the store itself is the truth). */
  get channel(): string {
    return this.keys.k('events', 'cases');
  }

  private async publish(ev: CaseEvent): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(ev)).catch(() => undefined);
  }

  private async read(id: string): Promise<{ rec: CaseRecord; rev: string } | null> {
    const [json, rev] = await this.redis.hmget(this.caseKey(id), 'json', 'rev');
    if (!json || !rev) return null;
    return { rec: JSON.parse(json) as CaseRecord, rev };
  }

  async get(id: string): Promise<CaseRecord | null> {
    return (await this.read(id))?.rec ?? null;
  }

  /** The case an episode key maps to, if any. */
  async getByEpisode(idempotencyKey: string): Promise<CaseRecord | null> {
    const id = await this.redis.get(this.episodeKey(idempotencyKey));
    return id ? this.get(id) : null;
  }

  /**
   * Creates the case for an episode, exactly once per idempotency key. Returns the existing case on
   * a replay, or the open case the sighting was merged into.
   */
  async create(input: CreateCaseInput): Promise<{ case: CaseRecord; outcome: CreateOutcome }> {
    if (!input.idempotencyKey) throw new Error('case: idempotencyKey is required');
    const def = getClass(input.classId);
    const now = input.now ?? Date.now();
    const id = caseIdFor(input.idempotencyKey);
    const rec: CaseRecord = {
      id,
      idempotencyKey: input.idempotencyKey,
      episodeKeys: [input.idempotencyKey],
      cameraId: input.cameraId,
      timezone: input.timezone ?? 'Asia/Shanghai',
      classId: def.id,
      nameZh: def.nameZh,
      nameEn: def.nameEn,
      urgency: def.urgency,
      dueHours: def.dueHours,
      dueAt: now + def.dueHours * 3_600_000,
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
      history: [{ at: now, from: null, to: 'new', reason: input.reason.note ?? 'confirmed', actor: 'system' }],
    };
    if (input.cameraName) rec.cameraName = input.cameraName;
    if (input.zoneName) rec.zoneName = input.zoneName;
    if (input.extras) rec.extras = input.extras;

    for (let i = 0; i < MAX_CAS_RETRIES; i++) {
      const target = await this.mergeTarget(input);
      const args = target
        ? (() => {
            const merged: CaseRecord = {
              ...target.rec,
              episodeKeys: [...target.rec.episodeKeys, input.idempotencyKey],
              lastSeenAt: Math.max(target.rec.lastSeenAt, input.lastSeenAt),
              boxes: input.boxes,
              reappearances: target.rec.reappearances + 1,
              updatedAt: now,
            };
            return { mode: 'merge', targetId: target.rec.id, rev: target.rev, json: JSON.stringify(merged) };
          })()
        : { mode: 'new', targetId: id, rev: '', json: '' };
      const res = (await this.redis.eval(
        CREATE_LUA,
        5,
        this.episodeKey(input.idempotencyKey),
        this.caseKey(id),
        this.timeIndex,
        this.stateSet('new', input.cameraId),
        this.caseKey(args.targetId),
        id,
        JSON.stringify(rec),
        String(now),
        args.mode,
        args.targetId,
        args.rev,
        args.json,
      )) as [string, string];
      const [outcome, caseId] = res;
      if (outcome === 'retry') continue;
      const stored = await this.get(caseId);
      if (!stored) throw new Error(`case ${caseId} vanished while being created`);
      if (outcome === 'created') await this.publish({ type: 'created', caseId, cameraId: stored.cameraId, state: stored.state });
      if (outcome === 'merged') await this.publish({ type: 'merged', caseId, cameraId: stored.cameraId, state: stored.state });
      return { case: stored, outcome: outcome as CreateOutcome };
    }
    throw new Error(`case for ${input.idempotencyKey}: too much contention, gave up after ${MAX_CAS_RETRIES} attempts`);
  }

  private async mergeTarget(input: CreateCaseInput): Promise<{ rec: CaseRecord; rev: string } | null> {
    if (!(input.mergeWindowMs > 0)) return null;
    const ids = (await Promise.all(MERGEABLE_STATES.map((s) => this.redis.smembers(this.stateSet(s, input.cameraId))))).flat();
    let best: { rec: CaseRecord; rev: string; v: number } | null = null;
    for (const cid of ids) {
      const r = await this.read(cid);
      if (!r) continue;
      const c = r.rec;
      if (c.classId !== input.classId || c.zoneId !== input.zoneId) continue;
      if (input.firstSeenAt - c.lastSeenAt > input.mergeWindowMs && input.lastSeenAt - c.lastSeenAt > input.mergeWindowMs) continue;
      const v = overlap(c.boxes, input.boxes);
      if (v >= (input.mergeIou ?? 0.3) && (!best || v > best.v)) best = { ...r, v };
    }
    return best;
  }

  /**
   * Applies `mutate` with optimistic concurrency; retries on a concurrent write. `mutate` may throw
   * to refuse (e.g. an invalid transition) and must be pure over its argument.
   */
  async update(id: string, mutate: (c: CaseRecord) => CaseRecord): Promise<CaseRecord> {
    for (let i = 0; i < MAX_CAS_RETRIES; i++) {
      const cur = await this.read(id);
      if (!cur) throw new CaseNotFoundError(`case ${id} not found`);
      const next = mutate(structuredClone(cur.rec));
      next.updatedAt = Date.now();
      const r = (await this.redis.eval(
        CAS_LUA,
        3,
        this.caseKey(id),
        this.stateSet(cur.rec.state, cur.rec.cameraId),
        this.stateSet(next.state, next.cameraId),
        cur.rev,
        JSON.stringify(next),
        id,
      )) as number;
      if (r === 1) return next;
      if (r === -1) throw new CaseNotFoundError(`case ${id} not found`);
    }
    throw new Error(`case ${id}: too much contention, gave up after ${MAX_CAS_RETRIES} attempts`);
  }

  /** Moves a case to another state, refusing transitions the life cycle does not allow. */
  async transition(id: string, to: CaseState, opts: { reason?: string; actor?: string; expectFrom?: CaseState; verification?: CaseVerification } = {}): Promise<CaseRecord> {
    if (!isCaseState(to)) throw new CaseTransitionError(id, 'new', to);
    let from: CaseState = 'new';
    const rec = await this.update(id, (c) => {
      from = c.state;
      if (opts.expectFrom && c.state !== opts.expectFrom) throw new CaseTransitionError(id, c.state, to);
      if (!canTransition(c.state, to)) throw new CaseTransitionError(id, c.state, to);
      const entry: CaseHistoryEntry = { at: Date.now(), from: c.state, to };
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
    return this.update(id, (c) => ({ ...c, lastSeenAt: Math.max(c.lastSeenAt, lastSeenAt) }));
  }

  /** Case ids of a camera currently in a state (used by verification and merging). */
  async idsInState(state: CaseState, cameraId: string): Promise<string[]> {
    return this.redis.smembers(this.stateSet(state, cameraId));
  }

  /**
   * Newest first. `cursor` is opaque (from the previous page). Filters apply to every field the
   * HTTP API exposes; the time range narrows the index scan, the rest is filtered while scanning.
   */
  async list(filters: CaseFilters = {}, page: { limit?: number; cursor?: string | null } = {}): Promise<CasePage> {
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 500);
    const states = filters.state === undefined ? null : new Set(Array.isArray(filters.state) ? filters.state : [filters.state]);
    const match = (c: CaseRecord) =>
      (!filters.classId || c.classId === filters.classId) &&
      (!filters.cameraId || c.cameraId === filters.cameraId) &&
      (!filters.zoneId || c.zoneId === filters.zoneId) &&
      (!states || states.has(c.state));
    const after = page.cursor ? decodeCursor(page.cursor) : null;
    const items: CaseRecord[] = [];
    const min = filters.from ?? '-inf';
    const max = after ? Math.min(after.score, filters.to ?? Infinity) : (filters.to ?? '+inf');
    // Redis orders equal scores by member, descending, in ZREVRANGEBYSCORE: (score, id) descending
    // is therefore a total order and the cursor is the last (score, id) returned.
    for (let offset = 0; ; offset += SCAN_BATCH) {
      const raw = await this.redis.zrevrangebyscore(this.timeIndex, max, min, 'WITHSCORES', 'LIMIT', offset, SCAN_BATCH);
      for (let i = 0; i < raw.length; i += 2) {
        const id = raw[i]!;
        const score = Number(raw[i + 1]);
        if (after && (score > after.score || (score === after.score && id >= after.id))) continue;
        const c = await this.get(id);
        if (c && match(c)) {
          items.push(c);
          if (items.length === limit) return { items, nextCursor: encodeCursor({ score, id }) };
        }
      }
      if (raw.length / 2 < SCAN_BATCH) return { items, nextCursor: null };
    }
  }

  /** Counts per class, camera, zone, state and hour of day for cases created in [from, to]. */
  async stats(range: { from?: number; to?: number } = {}): Promise<CaseStats> {
    const out: CaseStats = { from: range.from ?? null, to: range.to ?? null, total: 0, byClass: {}, byCamera: {}, byZone: {}, byState: {}, byHour: new Array(24).fill(0) };
    let cursor: string | null = null;
    do {
      const p: CasePage = await this.list({ from: range.from, to: range.to }, { limit: 500, cursor });
      for (const c of p.items) {
        out.total++;
        out.byClass[c.classId] = (out.byClass[c.classId] ?? 0) + 1;
        out.byCamera[c.cameraId] = (out.byCamera[c.cameraId] ?? 0) + 1;
        const zk = `${c.cameraId}/${c.zoneId ?? '-'}`;
        out.byZone[zk] = (out.byZone[zk] ?? 0) + 1;
        out.byState[c.state] = (out.byState[c.state] ?? 0) + 1;
        out.byHour[localHour(c.firstSeenAt, c.timezone)]!++;
      }
      cursor = p.nextCursor;
    } while (cursor);
    return out;
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

function overlap(a: readonly Box[], b: readonly Box[]): number {
  let best = 0;
  for (const x of a) for (const y of b) best = Math.max(best, iou(x, y));
  return best;
}

function encodeCursor(c: { score: number; id: string }): string {
  return Buffer.from(`${c.score}|${c.id}`).toString('base64url');
}

function decodeCursor(s: string): { score: number; id: string } {
  const raw = Buffer.from(s, 'base64url').toString();
  const i = raw.indexOf('|');
  const score = Number(raw.slice(0, i));
  if (i < 0 || !Number.isFinite(score)) throw new Error(`invalid cursor "${s}"`);
  return { score, id: raw.slice(i + 1) };
}
