// The case store on both backends: the same suite against Debian's real PostgreSQL server and
// against PGlite (in-process), each test on a fresh database.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../infra/db/db.js';
import {
  CaseStore,
  CASE_STATES,
  CaseTransitionError,
  localHour,
  SEARCH_TEXT_MAX,
  splitRange,
  type CaseFilters,
  type CaseRecord,
  type CaseState,
  type CaseStats,
  type CreateCaseInput,
} from '../../infra/stores/case-store.js';
import { makeConventions } from '../../infra/stores/conventions.js';
import { decideCase } from '../../pipeline/rules/case-policy.js';
import type { ViolationEvent } from '../../pipeline/types.js';
import { NoticeStore } from '../../infra/stores/notice-store.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { QueryCounter } from '../support/query-counter.js';
import { PARKING_REASON } from './helpers.js';

let server: LocalPostgres;
let n = 0;
const opened: Database[] = [];
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await Promise.all(opened.map((d) => d.close().catch(() => undefined)));
  await server?.destroy();
});

type Backend = 'postgres' | 'pglite';
// One database per backend for the file (starting PGlite costs seconds); each test starts from
// empty tables. `open()` gives another independent connection pool to the same database.
const shared = new Map<Backend, { db: Database; open(): Promise<Database> }>();
async function fresh(kind: Backend): Promise<{ db: Database; open(): Promise<Database> }> {
  let s = shared.get(kind);
  if (!s) {
    if (kind === 'postgres') {
      const url = await server.createDatabase(`t${++n}`);
      const open = async () => {
        const d = await openDatabase({ url });
        opened.push(d);
        return d;
      };
      s = { db: await open(), open };
    } else {
      // PGlite is one in-process database: a second "instance" is a second store over it.
      const d = await openDatabase({});
      opened.push(d);
      s = { db: d, open: async () => d };
    }
    shared.set(kind, s);
  }
  await sql`truncate cases, case_episodes, case_history, case_evidence, case_verifications, notices restart identity cascade`.execute(
    s.db.db,
  );
  return s;
}

const reason = PARKING_REASON;
function input(key: string, over: Partial<CreateCaseInput> = {}): CreateCaseInput {
  return {
    idempotencyKey: key,
    cameraId: 'cam1',
    classId: 'illegal_parking',
    zoneId: 'kerb',
    zoneType: 'no_parking',
    firstSeenAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_005_000,
    boxes: [{ x1: 100, y1: 100, x2: 200, y2: 160 }],
    reason,
    mergeWindowMs: 0,
    ...over,
  };
}

const DAY = 86_400_000;
describe('splitRange', () => {
  it('reads whole 32-day blocks, then whole days, then the partial days at the edges, each instant once', () => {
    // Day 19_712 is the first of block 616 (19_712 = 616 × 32).
    const b = 616 * 32 * DAY;
    expect(splitRange(b + 5, b + 1000)).toEqual({ buckets: [], direct: [[b + 5, b + 1001]] });
    expect(splitRange(b - 3 * DAY - 7, b + 70 * DAY + 9)).toEqual({
      buckets: [
        [32, 616, 618],
        [1, 19_709, 19_712],
        [1, 19_776, 19_782],
      ],
      direct: [
        [b - 3 * DAY - 7, b - 3 * DAY],
        [b + 70 * DAY, b + 70 * DAY + 10],
      ],
    });
    expect(splitRange(b, b + 10 * DAY - 1)).toEqual({ buckets: [[1, 19_712, 19_722]], direct: [] });
    expect(splitRange(b + 10, b)).toEqual({ buckets: [], direct: [] });
    const open = splitRange(undefined, undefined);
    expect(open.buckets[0]).toEqual([
      32,
      Math.ceil(Math.ceil(-Number.MAX_SAFE_INTEGER / DAY) / 32),
      Math.floor(Math.floor(Number.MAX_SAFE_INTEGER / DAY) / 32),
    ]);
  });
});

/** What stats() must answer, counted in JS over the records. */
function expectedStats(all: CaseRecord[], from: number, to: number): CaseStats {
  const out: CaseStats = {
    from,
    to,
    total: 0,
    byClass: {},
    byCamera: {},
    byZone: {},
    byState: {},
    byCategory: {},
    byHour: new Array(24).fill(0),
  };
  const inc = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
  for (const c of all) {
    if (c.createdAt < from || c.createdAt > to) continue;
    out.total++;
    inc(out.byClass, c.classId);
    inc(out.byCamera, c.cameraId);
    inc(out.byZone, `${c.cameraId}/${c.zoneId ?? '-'}`);
    inc(out.byState, c.state);
    if (c.categoryCode) inc(out.byCategory, c.categoryCode);
    out.byHour[localHour(c.firstSeenAt, c.timezone)]!++;
  }
  return out;
}

describe.each<Backend>(['postgres', 'pglite'])('CaseStore on %s', { timeout: 60_000 }, (kind) => {
  it('creates exactly one case per episode when two store instances race on it, with catalog fields', async () => {
    const f = await fresh(kind);
    const a = new CaseStore(f.db.db);
    const b = new CaseStore((await f.open()).db);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? a : b).create(input('cam1:run:ep_a', { now: 1_700_000_006_000, mergeWindowMs: 60_000 })),
      ),
    );
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'existing')).toHaveLength(7);
    expect(new Set(results.map((r) => r.case.id)).size).toBe(1);
    const c = results[0]!.case;
    expect(c).toMatchObject({
      state: 'new',
      classId: 'illegal_parking',
      nameZh: '机动车违停',
      urgency: 'general',
      dueHours: 24,
      dueAt: 1_700_000_006_000 + 24 * 3_600_000,
      zoneId: 'kerb',
      categoryCode: '0504',
    });
    expect(c.responsibleParty.length).toBeGreaterThan(0);
    const urgent = await a.create(
      input('cam1:run:ep_fire', { classId: 'fire_lane_blocked', zoneId: 'fire', zoneType: 'fire_lane', now: 0 }),
    );
    expect(urgent.case).toMatchObject({ urgency: 'urgent', dueHours: 4, dueAt: 4 * 3_600_000 });
    expect((await b.list({}, { limit: 100 })).items).toHaveLength(2);
    // Two different episodes of one violation racing from two workers: one case, one merge.
    const race = await Promise.all([
      a.create(input('w1:ep', { cameraId: 'cam2', mergeWindowMs: 60_000 })),
      b.create(input('w2:ep', { cameraId: 'cam2', mergeWindowMs: 60_000, boxes: [{ x1: 102, y1: 100, x2: 202, y2: 160 }] })),
    ]);
    expect(race.map((r) => r.outcome).sort()).toEqual(['created', 'merged']);
    expect(race[0].case.id).toBe(race[1].case.id);
  });

  it('merges a reappearance within the merge window into the open case, with a history entry saying why', async () => {
    const cases = new CaseStore((await fresh(kind)).db.db);
    const a = await cases.create(input('k1', { mergeWindowMs: 60_000 }));
    const r2 = { ...reason, subject: 't7', trackIds: [7], dwellSec: 9 };
    const again = await cases.create(
      input('k2', {
        mergeWindowMs: 60_000,
        firstSeenAt: 1_700_000_030_000,
        lastSeenAt: 1_700_000_035_000,
        boxes: [{ x1: 105, y1: 100, x2: 205, y2: 162 }],
        reason: r2,
      }),
    );
    expect(again.outcome).toBe('merged');
    expect(again.case.id).toBe(a.case.id);
    expect(again.case.episodeKeys).toEqual(['k1', 'k2']);
    expect(again.case.reappearances).toBe(1);
    expect(again.case.lastSeenAt).toBe(1_700_000_035_000);
    const m = again.case.history[1]!;
    expect(m).toMatchObject({ kind: 'merge', from: 'new', to: 'new', actor: 'system' });
    expect(m.merge).toMatchObject({ episodeKey: 'k2', rule: 'overlap', minIou: 0.3, windowMs: 60_000, gapMs: 25_000, reason: r2 });
    expect(m.merge!.iou).toBeCloseTo(0.877, 2);
    expect(m.reason).toBe('reappearance merged (IoU 0.88 ≥ 0.3, within 60 s)');
    expect((await cases.getByEpisode('k2'))!.id).toBe(a.case.id);
    const elsewhere = await cases.create(
      input('k3', { mergeWindowMs: 60_000, firstSeenAt: 1_700_000_040_000, boxes: [{ x1: 400, y1: 300, x2: 480, y2: 360 }] }),
    );
    expect(elsewhere.outcome).toBe('created');
    const late = await cases.create(input('k4', { mergeWindowMs: 60_000, firstSeenAt: 1_700_000_500_000, lastSeenAt: 1_700_000_505_000 }));
    expect(late.outcome).toBe('created');
    // A replay of a merged episode answers the case it joined, and writes nothing new.
    const replay = await cases.create(input('k2', { mergeWindowMs: 60_000 }));
    expect(replay).toMatchObject({ outcome: 'existing', case: { id: a.case.id, reappearances: 1 } });
    expect(replay.case.history).toHaveLength(2);

    // The same episode back after clearing: the case policy's merge, written as a reappearance with its entry.
    const back: ViolationEvent = {
      id: 'ep_1.5',
      episodeId: 'ep_1',
      cameraId: 'cam1',
      classId: 'illegal_parking',
      transition: 'active',
      streamTime: 60,
      wallTime: 1_700_000_060_000,
      start: 0,
      end: null,
      boxes: [{ x1: 104, y1: 100, x2: 204, y2: 160 }],
      reason: { ...reason, thresholds: { mergeWindowSec: 60 }, frameTimes: [55, 60], resumed: true },
    };
    const known = await cases.getByEpisode('k1');
    const d = decideCase(back, known, 'k1');
    if (d.action !== 'merge') throw new Error(`expected a merge, got ${d.action}`);
    const resumed = await cases.addReappearance(d.caseId, d.details, back.boxes);
    expect(resumed).toMatchObject({ id: a.case.id, reappearances: 2, lastSeenAt: 1_700_000_060_000, boxes: back.boxes });
    const r = resumed.history[2]!;
    expect(r).toMatchObject({
      kind: 'merge',
      from: 'new',
      to: 'new',
      actor: 'system',
      reason: 'episode resumed after clearing (IoU 0.95, within 60 s)',
    });
    expect(r.merge).toEqual({
      episodeKey: 'k1',
      rule: 'resumed',
      iou: 0.949,
      minIou: 0,
      windowMs: 60_000,
      gapMs: 20_000,
      firstSeenAt: 1_700_000_055_000,
      lastSeenAt: 1_700_000_060_000,
      reason: back.reason,
    });
  });

  it('enforces the case life cycle in one place and records who moved it', async () => {
    const cases = new CaseStore((await fresh(kind)).db.db);
    const { case: c } = await cases.create(input('life1'));
    await expect(cases.transition(c.id, 'handled')).rejects.toBeInstanceOf(CaseTransitionError);
    // A generic update cannot smuggle a state change past the life cycle either.
    await expect(cases.update(c.id, (x) => ({ ...x, state: 'closed' }))).rejects.toBeInstanceOf(CaseTransitionError);
    await cases.transition(c.id, 'dispatched', { actor: 'op1', reason: 'sent to team 3' });
    await cases.transition(c.id, 'handled', { actor: 'team3' });
    expect(await cases.idsInStateByCamera('handled', ['cam1'])).toEqual(new Map([['cam1', [c.id]]]));
    await cases.transition(c.id, 'reopened', {
      actor: 'camera',
      verification: { startAt: 1, endAt: 2, presenceRatio: 0.5, present: 5, total: 10, result: 'reopened', decidedAt: 3 },
    });
    await cases.transition(c.id, 'handled', { actor: 'team3' });
    await cases.transition(c.id, 'verified', { actor: 'camera' });
    const closed = await cases.transition(c.id, 'closed', { actor: 'op1' });
    expect(closed.history.map((h) => h.to)).toEqual(['new', 'dispatched', 'handled', 'reopened', 'handled', 'verified', 'closed']);
    expect(closed.history[1]).toMatchObject({ actor: 'op1', reason: 'sent to team 3', from: 'new' });
    expect(closed.verification).toMatchObject({ result: 'reopened', presenceRatio: 0.5 });
    await expect(cases.transition(c.id, 'dispatched')).rejects.toThrow(/closed to dispatched/);
    expect(await cases.idsInStateByCamera('handled', ['cam1'])).toEqual(new Map([['cam1', []]]));
    const { case: fp } = await cases.create(input('life2'));
    expect((await cases.transition(fp.id, 'rejected', { reason: 'shadow, not a car' })).state).toBe('rejected');
    expect(await cases.get(fp.id)).not.toBeNull();
    await expect(cases.transition('case_ffff', 'dispatched')).rejects.toThrow(/not found/);
  });

  it('lists the case ids in a state for several cameras in one query', async () => {
    const f = await fresh(kind);
    const counter = new QueryCounter();
    const cases = new CaseStore(f.db.db.withPlugin(counter));
    const make = async (key: string, cameraId: string, path: CaseState[]) => {
      const { case: c } = await cases.create(input(key, { cameraId }));
      for (const to of path) await cases.transition(c.id, to);
      return c.id;
    };
    const toHandled: CaseState[] = ['dispatched', 'handled'];
    // camA: two handled among others; camB: one handled, one reopened; camC: open cases only;
    // camD: handled (not asked for); camE: no cases at all.
    const a1 = await make('a1', 'camA', toHandled);
    const a2 = await make('a2', 'camA', toHandled);
    await make('a3', 'camA', []);
    await make('a4', 'camA', ['dispatched']);
    await make('a5', 'camA', [...toHandled, 'verified']);
    const b1 = await make('b1', 'camB', toHandled);
    const b2 = await make('b2', 'camB', [...toHandled, 'reopened']);
    await make('c1', 'camC', []);
    await make('c2', 'camC', ['rejected']);
    const d1 = await make('d1', 'camD', toHandled);

    counter.n = 0;
    const handled = await cases.idsInStateByCamera('handled', ['camA', 'camB', 'camC', 'camE', 'camA']);
    expect(counter.n).toBe(1);
    expect(handled).toEqual(
      new Map([
        ['camA', [a1, a2].sort()],
        ['camB', [b1]],
        ['camC', []],
        ['camE', []],
      ]),
    );
    expect([...handled.keys()]).toEqual(['camA', 'camB', 'camC', 'camE']);
    expect(await cases.idsInStateByCamera('reopened', ['camB', 'camA'])).toEqual(
      new Map([
        ['camB', [b2]],
        ['camA', []],
      ]),
    );
    // Camera ids are data, never SQL.
    expect(await cases.idsInStateByCamera('handled', ["camA' or '1'='1", 'camD'])).toEqual(
      new Map([
        ["camA' or '1'='1", []],
        ['camD', [d1]],
      ]),
    );
    counter.n = 0;
    expect(await cases.idsInStateByCamera('handled', [])).toEqual(new Map());
    expect(counter.n).toBe(0);
  });

  it('adds evidence idempotently', async () => {
    const cases = new CaseStore((await fresh(kind)).db.db);
    const { case: c } = await cases.create(input('ev1'));
    const ref = {
      store: 'fs' as const,
      key: 'cam1/2024-01-01/e/clip.mp4',
      file: { name: 'clip.mp4', kind: 'clip' as const, contentType: 'video/mp4', bytes: 10, sha256: 'x' },
    };
    await cases.addEvidence(c.id, [ref]);
    const after = await cases.addEvidence(c.id, [ref]);
    expect(after.evidence).toEqual([ref]);
    expect(after.evidenceStatus).toBe('ready');
    expect((await cases.addEvidence(c.id, [], 'failed')).evidenceStatus).toBe('ready');
  });

  it('lists with filters and keyset pagination; counts, hot spots, trend and the class × zone × hour × day matrix in SQL', async () => {
    const cases = new CaseStore((await fresh(kind)).db.db);
    const t0 = Date.UTC(2024, 0, 1, 0, 0, 0); // 08:00 in Asia/Shanghai
    for (let i = 0; i < 7; i++) {
      await cases.create(
        input(`l${i}`, {
          cameraId: i % 2 ? 'camB' : 'camA',
          cameraName: i % 2 ? '南门路口' : 'North gate',
          classId: i < 5 ? 'illegal_parking' : 'street_vending',
          zoneId: i < 5 ? 'kerb' : 'plaza',
          firstSeenAt: t0 + i * 3_600_000,
          now: t0 + i * 60_000 + (i === 3 ? -60_000 : 0),
        }),
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const p = await cases.list({}, { limit: 3, cursor });
      seen.push(...p.items.map((c) => c.idempotencyKey));
      cursor = p.nextCursor;
    } while (cursor);
    // Newest first; l2 and l3 share a createdAt and are ordered by id, none is skipped or repeated.
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen.slice(0, 3)).toEqual(['l6', 'l5', 'l4']);
    expect((await cases.list({}, { limit: 7 })).nextCursor).toBeNull();
    expect((await cases.list({ cameraId: 'camB', classId: 'illegal_parking' })).items.map((c) => c.idempotencyKey)).toEqual(['l3', 'l1']);
    expect((await cases.list({ from: t0 + 4 * 60_000, to: t0 + 5 * 60_000 })).items.map((c) => c.idempotencyKey)).toEqual(['l5', 'l4']);
    expect((await cases.list({ zoneId: 'plaza', state: ['new'] })).items).toHaveLength(2);
    expect((await cases.list({ categoryCode: '0501' })).items.map((c) => c.idempotencyKey)).toEqual(['l6', 'l5']);
    expect((await cases.list({ q: '南门' })).items.map((c) => c.idempotencyKey)).toEqual(['l5', 'l3', 'l1']);
    expect((await cases.list({ q: 'NORTH' })).items).toHaveLength(4);
    expect((await cases.list({ q: '100%_' })).items).toHaveLength(0);
    await expect(cases.list({}, { cursor: 'bm9wZQ' })).rejects.toThrow(/invalid cursor/);
    const s = await cases.stats({ from: t0, to: t0 + 3_600_000 });
    expect(s.total).toBe(7);
    expect(s.byClass).toEqual({ illegal_parking: 5, street_vending: 2 });
    expect(s.byCamera).toEqual({ camA: 4, camB: 3 });
    expect(s.byZone).toEqual({ 'camA/kerb': 3, 'camB/kerb': 2, 'camA/plaza': 1, 'camB/plaza': 1 });
    expect(s.byState).toEqual({ new: 7 });
    expect(s.byCategory).toEqual({ '0504': 5, '0501': 2 });
    expect(s.byHour.slice(8, 15)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect((await cases.stats({ from: t0 + 5 * 60_000 })).total).toBe(2);
    const hot = await cases.hotSpots({ top: 2 });
    expect(hot).toEqual([
      { cameraId: 'camA', zoneId: 'kerb', count: 3, byClass: { illegal_parking: 3 }, peakHour: 8 },
      { cameraId: 'camB', zoneId: 'kerb', count: 2, byClass: { illegal_parking: 2 }, peakHour: 9 },
    ]);
    // Week over week: two more sightings at camA/plaza a week later.
    const wk = 7 * 86_400_000;
    for (const i of [0, 1])
      await cases.create(
        input(`w${i}`, { cameraId: 'camA', classId: 'street_vending', zoneId: 'plaza', firstSeenAt: t0 + wk, now: t0 + wk + i }),
      );
    const tr = await cases.trend({ at: t0 + wk + 7 * 60_000 });
    expect(tr.rows[0]).toEqual({ classId: 'street_vending', cameraId: 'camA', zoneId: 'plaza', thisWeek: 2, lastWeek: 1, change: 1 });
    const mx = await cases.matrix({ classId: 'street_vending' });
    expect(mx).toEqual([
      { classId: 'street_vending', cameraId: 'camB', zoneId: 'plaza', day: '2024-01-01', hour: 13, count: 1 },
      { classId: 'street_vending', cameraId: 'camA', zoneId: 'plaza', day: '2024-01-01', hour: 14, count: 1 },
      { classId: 'street_vending', cameraId: 'camA', zoneId: 'plaza', day: '2024-01-08', hour: 8, count: 2 },
    ]);
  });

  it('returns, for every kind of filter, exactly the cases a brute-force filter finds, in keyset order at any page size', async () => {
    const db = (await fresh(kind)).db.db;
    const cases = new CaseStore(db);
    // 250 cases over 60 days: 8 cameras (CJK and Latin names), 1-4 zones and none, 6 classes, every
    // state, createdAt ties (every 7th case shares its predecessor's instant).
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const classes = ['illegal_parking', 'street_vending', 'exposed_garbage', 'bike_disorder', 'road_spillage', 'fire_lane_blocked'];
    const cams = Array.from({ length: 8 }, (_, i) => ({
      id: `cam-${i}`,
      name: i % 2 ? `路口 ${i * 75} 号` : `North Gate ${i}`,
      zones: [null, ...Array.from({ length: 1 + (i % 4) }, (_, z) => `z${z}`)],
    }));
    const t0 = Date.UTC(2024, 2, 1);
    const recs: CaseRecord[] = [];
    let at = t0;
    for (let i = 0; i < 250; i++) {
      if (i % 7) at += Math.floor(rand() * 12 * 3_600_000);
      const cam = pick(cams);
      const zoneId = pick(cam.zones);
      const r = cases.buildRecord(
        input(`f${i}`, {
          cameraId: cam.id,
          cameraName: cam.name,
          classId: pick(classes),
          zoneId,
          ...(zoneId ? { zoneName: `${cam.name} ${zoneId}` } : {}),
          firstSeenAt: at - 60_000,
          lastSeenAt: at - 1000,
          now: at,
        }),
      );
      r.state = pick(CASE_STATES);
      recs.push(r);
    }
    // A camera name far longer than any real one, in 4-byte characters: only the first
    // SEARCH_TEXT_MAX characters of a case's text are searchable (they fit a B-tree entry).
    const long = cases.buildRecord(
      input('f-long', { cameraId: 'cam-long', cameraName: `长${'𠀀'.repeat(1000)}尾`, zoneId: null, now: t0 + 5 * DAY }),
    );
    recs.push(long);
    await cases.insertMany(recs);
    const month = { from: t0 + 20 * DAY, to: t0 + 50 * DAY };
    const filters: CaseFilters[] = [
      {},
      { cameraId: 'cam-3' },
      { cameraId: 'cam-3', zoneId: 'z1' },
      { zoneId: 'z0' },
      { classId: 'illegal_parking', state: ['new', 'dispatched'] },
      { categoryCode: '0501' },
      { state: 'reopened' },
      month,
      { from: month.from },
      { to: month.to },
      { classId: 'street_vending', ...month },
      { cameraId: 'cam-5', ...month, state: ['closed', 'rejected', 'verified'] },
      { q: '路口 75 号' },
      { q: '路口' },
      { q: 'north gate 2' },
      { q: 'NORTH' },
      { q: 'z3' },
      { q: 'z1', ...month },
      { q: '号 z2' },
      { q: 'parking', cameraId: 'cam-1' },
      { q: recs[123]!.id.slice(5, 14) },
      { q: recs[200]!.id },
      { q: 'cam-' },
      { q: 'Gate 4 z' },
      { q: '100%_' },
      { q: 'no such text anywhere' },
      { q: '长𠀀𠀀' },
      { q: '𠀀尾' },
    ];
    // The documented meaning of each filter, applied to the records in memory.
    const text = (c: CaseRecord) =>
      [
        ...[
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
          .filter((x) => typeof x === 'string' && x !== '')
          .join(' ')
          .toLowerCase(),
      ]
        .slice(0, SEARCH_TEXT_MAX)
        .join('');
    const matches = (c: CaseRecord, f: CaseFilters) =>
      (!f.classId || c.classId === f.classId) &&
      (!f.cameraId || c.cameraId === f.cameraId) &&
      (!f.zoneId || c.zoneId === f.zoneId) &&
      (!f.categoryCode || c.categoryCode === f.categoryCode) &&
      (f.state === undefined || (Array.isArray(f.state) ? f.state : [f.state]).includes(c.state)) &&
      (f.from === undefined || c.createdAt >= f.from) &&
      (f.to === undefined || c.createdAt <= f.to) &&
      (!f.q || text(c).includes(f.q.toLowerCase()));
    const newestFirst = (a: CaseRecord, b: CaseRecord) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    let nonEmpty = 0;
    for (const f of filters) {
      const expected = recs
        .filter((c) => matches(c, f))
        .sort(newestFirst)
        .map((c) => c.id);
      if (expected.length > 0) nonEmpty++;
      for (const limit of [40, 500]) {
        const got: string[] = [];
        let cursor: string | null = null;
        do {
          const p = await cases.list(f, { limit, cursor });
          expect(p.items.length).toBeLessThanOrEqual(limit);
          got.push(...p.items.map((c) => c.id));
          cursor = p.nextCursor;
        } while (cursor);
        expect({ filter: f, limit, ids: got }).toEqual({ filter: f, limit, ids: expected });
      }
      // On 250 cases the planner reads the table; the plans of a large table are forced here: index
      // paths only (trigram bitmap or an index walk), then index walks only (the text checked inside
      // cases_created_search). On PostgreSQL only: the same planner in WASM takes seconds per filter.
      const forced = kind === 'postgres' ? [['enable_seqscan = off'], ['enable_seqscan = off', 'enable_bitmapscan = off']] : [];
      for (const settings of forced) {
        const ids = await db.transaction().execute(async (trx) => {
          for (const s of settings) await sql.raw(`set local ${s}`).execute(trx);
          return (await new CaseStore(trx).list(f, { limit: 500 })).items.map((c) => c.id);
        });
        expect({ filter: f, settings, ids }).toEqual({ filter: f, settings, ids: expected });
      }
    }
    // The set exercises the filters: all but the three deliberately unmatched texts find cases.
    expect(nonEmpty).toBeGreaterThanOrEqual(filters.length - 3);
  });

  it('keeps the rollups equal to a direct count over the cases through inserts, bulk inserts, merges, transitions and deletes', async () => {
    const f = await fresh(kind);
    const cases = new CaseStore(f.db.db);
    const db = f.db.db;
    // 30 cases over 90 days (three 32-day blocks and their edges), two cameras, a null zone.
    const t0 = Date.UTC(2024, 0, 3, 5, 30);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const at = t0 + i * 3 * DAY + i * 3_600_000;
      const r = await cases.create(
        input(`r${i}`, {
          cameraId: i % 3 ? 'camA' : 'camB',
          classId: i % 4 ? 'illegal_parking' : 'street_vending',
          zoneId: i % 5 ? 'kerb' : null,
          zoneType: null,
          firstSeenAt: at,
          lastSeenAt: at + 5000,
          now: at + 6000,
          mergeWindowMs: 0,
        }),
      );
      ids.push(r.case.id);
    }
    // A reappearance merged into r29 (no new case), a bulk insert of 3, transitions and a delete.
    const merged = await cases.create(
      input('r29b', {
        cameraId: 'camA',
        classId: 'illegal_parking',
        zoneId: 'kerb',
        zoneType: null,
        firstSeenAt: t0 + 87 * DAY + 29 * 3_600_000 + 9000,
        lastSeenAt: t0 + 87 * DAY + 29 * 3_600_000 + 9999,
        now: t0 + 88 * DAY,
        mergeWindowMs: 60_000,
      }),
    );
    expect(merged.outcome).toBe('merged');
    const bulk = [0, 1, 2].map((i) =>
      cases.buildRecord(
        input(`bulk${i}`, {
          cameraId: 'camC',
          classId: 'exposed_garbage',
          zoneId: null,
          zoneType: null,
          firstSeenAt: t0 + i * 40 * DAY,
          lastSeenAt: t0 + i * 40 * DAY + 1,
          now: t0 + i * 40 * DAY + 2,
          mergeWindowMs: 0,
        }),
      ),
    );
    bulk[1]!.state = 'rejected';
    expect(await cases.insertMany(bulk)).toHaveLength(3);
    for (const id of ids.slice(0, 6)) await cases.transition(id, 'dispatched', { actor: 'op' });
    for (const id of ids.slice(0, 2)) await cases.transition(id, 'handled', { actor: 'op' });
    await cases.transition(ids[7]!, 'rejected', { actor: 'op', reason: 'false positive' });
    await cases.addEvidence(ids[8]!, [
      { store: 'fs', key: 'a/clip.mp4', file: { name: 'clip.mp4', kind: 'clip', contentType: 'video/mp4', bytes: 10, sha256: 'x' } },
    ]);
    await sql`delete from cases where id = ${ids[9]!}`.execute(db);

    // The rollup rows, per grain, against the same grouping computed from the cases.
    for (const grain of [1, 32]) {
      const { rows } = await sql<{ n: number }>`
        with r as (select bucket, camera_id, zone_id, class_id, state, category_code, n::bigint as n from case_counts where grain = ${grain} and n <> 0),
        c as (select floor(created_at::numeric / ${grain * DAY})::int as bucket, camera_id, coalesce(zone_id, '') as zone_id, class_id, state, coalesce(category_code, '') as category_code, count(*) as n
              from cases group by 1, 2, 3, 4, 5, 6)
        select count(*)::int as n from ((select * from r except select * from c) union all (select * from c except select * from r)) x`.execute(
        db,
      );
      expect(rows[0]!.n).toBe(0);
      const h = await sql<{ n: number }>`
        with r as (select bucket, camera_id, zone_id, class_id, local_hour, n::bigint as n from case_hour_counts where grain = ${grain} and n <> 0),
        c as (select floor(created_at::numeric / ${grain * DAY})::int as bucket, camera_id, coalesce(zone_id, '') as zone_id, class_id, local_hour, count(*) as n from cases group by 1, 2, 3, 4, 5)
        select count(*)::int as n from ((select * from r except select * from c) union all (select * from c except select * from r)) x`.execute(
        db,
      );
      expect(h.rows[0]!.n).toBe(0);
      const tot = await sql<{ n: number }>`select sum(n)::int as n from case_hour_totals where grain = ${grain}`.execute(db);
      expect(tot.rows[0]!.n).toBe(32);
    }

    // The queries over ranges that cut blocks and days, against a count in JS.
    const all = (await cases.list({}, { limit: 500 })).items;
    expect(all).toHaveLength(32);
    const whole = await cases.stats({ from: t0 - DAY, to: t0 + 100 * DAY });
    expect(whole).toEqual(expectedStats(all, t0 - DAY, t0 + 100 * DAY));
    expect(whole).toMatchObject({
      total: 32,
      byState: { new: 24, dispatched: 4, handled: 2, rejected: 2 },
      byCamera: { camA: 20, camB: 9, camC: 3 },
    });
    for (const [from, to] of [
      [t0 + 4 * DAY + 17, t0 + 77 * DAY + 3_600_000],
      [t0 + 3 * DAY + 3_600_000, t0 + 3 * DAY + 3_600_000],
      [t0 + 31 * DAY, t0 + 64 * DAY - 1],
    ] as const) {
      expect(await cases.stats({ from, to })).toEqual(expectedStats(all, from, to));
    }
    const hot = await cases.hotSpots({ from: t0 + 2 * DAY + 1, to: t0 + 70 * DAY });
    expect(hot.map((h) => [h.cameraId, h.zoneId, h.count])).toEqual([
      ['camA', 'kerb', 13],
      ['camB', 'kerb', 5],
      ['camA', null, 3],
      ['camB', null, 1],
      ['camC', null, 1],
    ]);
    expect(hot[0]!.byClass).toEqual({ illegal_parking: 10, street_vending: 3 });
    // Local hours (Asia/Shanghai) are 13:30 + i h: camA/kerb has one case per hour (peak = first, 0 h),
    // camB/kerb's are at 16, 19, 1, 7 and 10 h.
    expect(hot.slice(0, 2).map((h) => h.peakHour)).toEqual([0, 1]);
    expect(await cases.hotSpots({ from: t0 + 2 * DAY + 1, to: t0 + 70 * DAY, classId: 'street_vending', top: 1 })).toEqual([
      { cameraId: 'camA', zoneId: 'kerb', count: 3, byClass: { street_vending: 3 }, peakHour: 5 },
    ]);
    const trend = await cases.trend({ at: t0 + 88 * DAY, classId: 'illegal_parking' });
    expect(trend.rows).toEqual([
      { classId: 'illegal_parking', cameraId: 'camB', zoneId: 'kerb', thisWeek: 1, lastWeek: 0, change: null },
      { classId: 'illegal_parking', cameraId: 'camA', zoneId: 'kerb', thisWeek: 0, lastWeek: 1, change: -1 },
      { classId: 'illegal_parking', cameraId: 'camA', zoneId: null, thisWeek: 0, lastWeek: 1, change: -1 },
    ]);
  });

  it('sets dueAt from the city time limit in working hours or days across a weekend and a holiday', async () => {
    const conventions = makeConventions({
      city: 'test city',
      calendar: { holidays: ['2024-01-08'], dayStart: '08:30', dayEnd: '17:30' },
      timeLimits: { exposed_garbage: { amount: 4, unit: 'workingHours' }, illegal_parking: { amount: 1, unit: 'workingDays' } },
      categories: { exposed_garbage: { code: '010203', majorZh: '市容环境', minorZh: '暴露垃圾' } },
    });
    const cases = new CaseStore((await fresh(kind)).db.db, { conventions });
    // Friday 2024-01-05 15:00 Asia/Shanghai: 2.5 working hours left on Friday, the weekend and Monday
    // (a holiday here) do not count, so the last 1.5 h run on Tuesday from 08:30 → 10:00.
    const fri15 = Date.UTC(2024, 0, 5, 7, 0, 0);
    const g = await cases.create(input('due1', { classId: 'exposed_garbage', zoneId: null, zoneType: null, now: fri15 }));
    expect(new Date(g.case.dueAt).toISOString()).toBe('2024-01-09T02:00:00.000Z');
    expect(g.case).toMatchObject({ categoryCode: '010203', timeLimit: { amount: 4, unit: 'workingHours' }, dueHours: 91 });
    // One working day from Friday: close of the next working day, Tuesday 17:30.
    const p = await cases.create(input('due2', { now: fri15 }));
    expect(new Date(p.case.dueAt).toISOString()).toBe('2024-01-09T09:30:00.000Z');
    // After hours on Tuesday: the 4 working hours start Wednesday morning.
    const late = await cases.create(
      input('due3', { classId: 'exposed_garbage', zoneId: 'z2', zoneType: null, now: Date.UTC(2024, 0, 9, 12, 0, 0) }),
    );
    expect(new Date(late.case.dueAt).toISOString()).toBe('2024-01-10T04:30:00.000Z');
  });

  it('opens a notice at the warning stage; leaving within the grace period resolves it without a case, staying escalates it to one', async () => {
    const f = await fresh(kind);
    const notices = new NoticeStore(f.db.db);
    const cases = new CaseStore(f.db.db);
    const t = 1_700_000_000_000;
    const a = await notices.open({
      episodeKey: 'cam1:run:ep_left',
      cameraId: 'cam1',
      classId: 'storefront_overflow',
      zoneId: 'front',
      graceSec: 600,
      now: t,
      details: { nameZh: '店外经营' },
    });
    expect(a).toMatchObject({
      created: true,
      notice: { state: 'open', graceUntil: t + 600_000, caseId: null, details: { nameZh: '店外经营' } },
    });
    expect(
      (
        await notices.open({
          episodeKey: 'cam1:run:ep_left',
          cameraId: 'cam1',
          classId: 'storefront_overflow',
          zoneId: 'front',
          graceSec: 600,
        })
      ).created,
    ).toBe(false);
    const left = await notices.resolve('cam1:run:ep_left', t + 300_000);
    expect(left).toMatchObject({ state: 'resolved', resolvedAt: t + 300_000, caseId: null });
    expect(await cases.getByEpisode('cam1:run:ep_left')).toBeNull();
    expect(await notices.resolve('cam1:run:ep_left')).toBeNull();
    // The other shop stays past the grace period: the case opens and the notice names it.
    await notices.open({
      episodeKey: 'cam1:run:ep_stayed',
      cameraId: 'cam1',
      classId: 'storefront_overflow',
      zoneId: 'front',
      graceSec: 600,
      now: t,
    });
    const { case: c } = await cases.create(
      input('cam1:run:ep_stayed', { classId: 'storefront_overflow', zoneId: 'front', zoneType: null }),
    );
    expect(await notices.escalate('cam1:run:ep_stayed', c.id)).toMatchObject({ state: 'escalated', caseId: c.id });
    expect(await notices.resolve('cam1:run:ep_stayed')).toBeNull();
    expect((await notices.list({ state: 'resolved' })).map((n) => n.episodeKey)).toEqual(['cam1:run:ep_left']);
  });
});
