// bench:cases — a city's year of cases in the case store, then the queries the platform runs.
//   npm run bench:cases -- --cases 1000000 [--pglite] [--inserts 2000] [--database-url postgres://…]
// Without --database-url it starts Debian's PostgreSQL in a temp dir (like the tests). Seeds with
// CaseStore.insertMany (5000 cases per transaction, one json_to_recordset statement per table, the
// same rows as the normal path; the rollup triggers run as they do in production), measures the
// normal create() path on top, then prints list p95 per filter (with a check of every list plan for
// sequential scans), year statistics, hot spots, trend and one month's class × zone × hour × day
// matrix, and checks the rollups against a direct count.
import { CompiledQuery, sql } from 'kysely';
import { CATALOG } from '../../pipeline/rules/catalog.js';
import { openDatabase } from '../../infra/db/db.js';
import { schemaFingerprint } from '../../infra/db/migrations.js';
import { CaseStore, type CaseFilters, type CaseRecord, type CaseState } from '../../infra/stores/case-store.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const total = Number(arg('cases') ?? 100_000);
const inserts = Number(arg('inserts') ?? 2000);
const usePglite = process.argv.includes('--pglite');
if (!Number.isInteger(total) || total < 1000) throw new Error('--cases must be an integer ≥ 1000');

// Deterministic PRNG, so runs are comparable.
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <T>(xs: readonly T[], w?: readonly number[]): T => {
  if (!w) return xs[Math.floor(rand() * xs.length)]!;
  let r = rand() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < xs.length; i++) if ((r -= w[i]!) <= 0) return xs[i]!;
  return xs[xs.length - 1]!;
};

// A city: 300 cameras with 1-4 zones; each camera watches 2-4 classes. Zones are Zipf-weighted (a
// few hot spots carry much of the load); hours follow street life (vending at meal times, parking
// in office hours); most cases of a year are closed, recent ones open.
const CAMERAS = Array.from({ length: 300 }, (_, i) => {
  const classes = Array.from({ length: 2 + Math.floor(rand() * 3) }, () => pick(CATALOG).id);
  const zones = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, z) => `z${z}`);
  return { id: `cam-${String(i).padStart(3, '0')}`, name: `路口 ${i} 号`, classes: [...new Set(classes)], zones };
});
const camWeights = CAMERAS.map((_, i) => 1 / (i + 1) ** 0.8);
const HOUR_W = [1, 0.5, 0.3, 0.3, 0.3, 0.6, 2, 5, 8, 7, 6, 8, 10, 7, 6, 6, 7, 9, 10, 9, 7, 5, 3, 2];
const YEAR_START = Date.UTC(2025, 0, 1) - 8 * 3_600_000;
const YEAR_MS = 365 * 86_400_000;
const STATES: CaseState[] = ['closed', 'rejected', 'verified', 'handled', 'dispatched', 'new', 'reopened'];
const STATE_W = [70, 8, 6, 5, 5, 5, 1];
const reason = (classId: string, zoneId: string) => ({
  classId,
  zoneId,
  zoneType: 'no_parking',
  subject: 'track 17',
  trackIds: [17, 23],
  dwellSec: 312,
  hits: 14,
  window: 20,
  medianScore: 0.71,
  thresholds: { minDwellSec: 300, minHits: 12, window: 20, maxGapSec: 10, minScore: 0.35 },
  firstSeen: 1200.5,
  lastSeen: 1512.5,
  frameTimes: Array.from({ length: 14 }, (_, i) => 1200.5 + i * 22.3),
  note: 'dwell ≥ 300 s in zone',
});

function makeCase(store: CaseStore, i: number): CaseRecord {
  const cam = pick(CAMERAS, camWeights);
  const classId = pick(cam.classes);
  const zoneId = pick(
    cam.zones,
    cam.zones.map((_, z) => 1 / (z + 1)),
  );
  const day = Math.floor(rand() * 365);
  const hour =
    CAMERAS.length &&
    pick(
      HOUR_W.map((_, h) => h),
      HOUR_W,
    );
  const first = YEAR_START + day * 86_400_000 + hour * 3_600_000 + Math.floor(rand() * 3_600_000);
  const rec = store.buildRecord({
    idempotencyKey: `${cam.id}:bench:ep${i}`,
    cameraId: cam.id,
    cameraName: cam.name,
    classId,
    zoneId,
    zoneName: `${cam.name} ${zoneId}`,
    zoneType: 'no_parking',
    firstSeenAt: first,
    lastSeenAt: first + 300_000,
    boxes: [{ x1: 412, y1: 220, x2: 598, y2: 371 }],
    reason: reason(classId, zoneId),
    mergeWindowMs: 0,
    now: first + 310_000,
  });
  const age = YEAR_START + YEAR_MS - first;
  rec.state = age < 3 * 86_400_000 ? pick(['new', 'dispatched', 'handled'] as CaseState[]) : pick(STATES, STATE_W);
  if (rec.state !== 'new')
    rec.history.push({ at: rec.createdAt + 600_000, from: 'new', to: 'dispatched', kind: 'transition', actor: 'platform:bench' });
  rec.evidence = [
    {
      store: 's3',
      key: `${cam.id}/2025/${rec.id}/clip.mp4`,
      file: { name: 'clip.mp4', kind: 'clip', contentType: 'video/mp4', bytes: 2_400_000, sha256: 'ab'.repeat(32) },
    },
  ];
  rec.evidenceStatus = 'ready';
  return rec;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
async function timeIt<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

let pgServer: LocalPostgres | null = null;
let url = arg('database-url') ?? null;
if (!usePglite && !url) {
  // A server sized for a million cases (the tests' one has 64 MB of buffers and checkpoints every GB of WAL).
  pgServer = await startPostgres({
    shared_buffers: '1GB',
    maintenance_work_mem: '512MB',
    work_mem: '64MB',
    max_wal_size: '8GB',
    checkpoint_timeout: '30min',
  });
  url = await pgServer.createDatabase('bench');
}
const database = await openDatabase(usePglite ? {} : { url });
const store = new CaseStore(database.db);
console.log(`bench:cases on ${database.kind} (${database.where}), ${total} cases`);
try {
  if (process.argv.includes('--reuse')) {
    // A database seeded by an earlier (interrupted) run: rebuild the indexes the seeding dropped.
    const all = schemaFingerprint()
      .split(/;\s*\n/)
      .map((s) => s.trim());
    const dropped = new Set(all.flatMap((s) => /^DROP INDEX (\S+)/.exec(s)?.[1] ?? []));
    const stmts = all.filter((s) => /^CREATE INDEX (cases_\S+)/.test(s) && !dropped.has(s.split(/\s+/)[2]!));
    const [t] = await timeIt(async () => {
      for (const s of stmts) await sql.raw(s.replace('CREATE INDEX', 'CREATE INDEX IF NOT EXISTS')).execute(database.db);
    });
    await sql`vacuum analyze`.execute(database.db);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from cases`.execute(database.db);
    console.log(`reusing ${rows[0]!.n} seeded cases; indexes rebuilt in ${(t / 1000).toFixed(1)} s`);
  } else {
    // 1. Seed a year. As in any bulk load, the secondary indexes are dropped first and built after
    //    (one sort per index instead of a million incremental GIN/B-tree inserts); the normal insert
    //    path is measured below with every index in place.
    const { rows: allIdx } = await sql<{
      indexname: string;
      indexdef: string;
    }>`select indexname, indexdef from pg_indexes where tablename = 'cases'`.execute(database.db);
    const idx = allIdx.filter((i) => !/_(pkey|key)$/.test(i.indexname));
    for (const i of idx) await sql.raw(`drop index ${i.indexname}`).execute(database.db);
    const batch = Number(arg('batch') ?? 5000);
    // A base of realistic cases goes through CaseStore.insertMany (Node builds every record); the rest
    // are copies of the base made inside the server, each copy of a case shifted by a whole number of
    // days (different per copy, wrapping within the year): the same camera/class/zone/hour/state mix,
    // spread over the year, without the client building and shipping ~1 KB per case.
    const base = Math.min(total, Number(arg('base') ?? Math.max(1000, Math.ceil(total / 20))));
    const tSeed = performance.now();
    for (let i = 0; i < base; i += batch) {
      const recs = Array.from({ length: Math.min(batch, base - i) }, (_, j) => makeCase(store, i + j));
      await store.insertMany(recs, { skipExistingCheck: true });
      if ((i / batch) % 5 === 4)
        process.stdout.write(`  seeded ${i + batch} (${Math.round((i + batch) / ((performance.now() - tSeed) / 1000))}/s)\n`);
    }
    const baseSec = (performance.now() - tSeed) / 1000;
    console.log(
      `base seed (insertMany, ${batch} per transaction): ${base} cases in ${baseSec.toFixed(1)} s = ${Math.round(base / baseSec)} cases/s (without secondary indexes; rollup triggers on)`,
    );
    await sql`create table bench_base as select id from cases`.execute(database.db);
    const tCopy = performance.now();
    for (let k = 1, done = base; done < total; k++) {
      const n = Math.min(base, total - done);
      const off = ((k * 53) % 365) * 86_400_000;
      await database.db.transaction().execute(async (trx) => {
        await sql`create temp table shift on commit drop as
        select id, id || 'r' || ${k}::int as nid, (((created_at - ${YEAR_START} + ${off}) % ${YEAR_MS} + ${YEAR_MS}) % ${YEAR_MS} + ${YEAR_START}) - created_at as d
        from cases join (select id from bench_base limit ${n}) b using (id)`.execute(trx);
        await sql`insert into cases (id, idempotency_key, camera_id, class_id, zone_id, state, category_code, created_at, updated_at, first_seen_at, last_seen_at,
          due_at, local_hour, local_day, evidence_status, reappearances, rev, search, doc)
        select s.nid, c.idempotency_key || ':r' || ${k}::int, c.camera_id, c.class_id, c.zone_id, c.state, c.category_code, c.created_at + s.d, c.updated_at + s.d,
          c.first_seen_at + s.d, c.last_seen_at + s.d, c.due_at + s.d, c.local_hour, c.local_day + (s.d / 86400000)::int, c.evidence_status, c.reappearances, c.rev,
          replace(c.search, c.id, s.nid), c.doc
        from shift s join cases c using (id)`.execute(trx);
        await sql`insert into case_episodes (episode_key, case_id, at) select e.episode_key || ':r' || ${k}::int, s.nid, e.at + s.d from shift s join case_episodes e on e.case_id = s.id`.execute(
          trx,
        );
        await sql`insert into case_history (case_id, at, kind, from_state, to_state, reason, actor, details)
        select s.nid, h.at + s.d, h.kind, h.from_state, h.to_state, h.reason, h.actor, h.details from shift s join case_history h on h.case_id = s.id`.execute(
          trx,
        );
        await sql`insert into case_evidence (case_id, key, added_at, ref) select s.nid, e.key, e.added_at + s.d, e.ref from shift s join case_evidence e on e.case_id = s.id`.execute(
          trx,
        );
      });
      done += n;
      process.stdout.write(`  copied to ${done} (${Math.round((done - base) / ((performance.now() - tCopy) / 1000))}/s)\n`);
    }
    const copySec = (performance.now() - tCopy) / 1000;
    const seedSec = (performance.now() - tSeed) / 1000;
    if (total > base)
      console.log(
        `server-side copies: ${total - base} cases in ${copySec.toFixed(1)} s = ${Math.round((total - base) / copySec)} cases/s (rollup triggers on)`,
      );
    console.log(`seeded ${total} cases in ${seedSec.toFixed(1)} s`);
    const [tIdx] = await timeIt(async () => {
      for (const i of idx) await sql.raw(i.indexdef).execute(database.db);
    });
    console.log(`building ${idx.length} secondary indexes: ${(tIdx / 1000).toFixed(1)} s`);
    const [tVac] = await timeIt(() => sql`vacuum analyze`.execute(database.db));
    console.log(`vacuum analyze: ${(tVac / 1000).toFixed(1)} s`);
  }

  // 2. The normal path: create() with merge check, advisory lock, history; sequential and 4 at once.
  const now = YEAR_START + YEAR_MS - 3_600_000;
  const mk = (i: number) => {
    const cam = pick(CAMERAS, camWeights);
    return {
      idempotencyKey: `${cam.id}:live:ep${i}`,
      cameraId: cam.id,
      cameraName: cam.name,
      classId: pick(cam.classes),
      zoneId: pick(cam.zones),
      zoneType: 'no_parking',
      firstSeenAt: now + i,
      lastSeenAt: now + i + 5000,
      boxes: [{ x1: (i % 50) * 20, y1: 0, x2: (i % 50) * 20 + 15, y2: 15 }],
      reason: reason('x', 'z'),
      mergeWindowMs: 1_800_000,
      now: now + i,
    };
  };
  const [tSeq] = await timeIt(async () => {
    for (let i = 0; i < inserts; i++) await store.create(mk(i));
  });
  const [tPar] = await timeIt(async () => {
    let next = inserts;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < 2 * inserts) await store.create(mk(next++));
      }),
    );
  });
  console.log(
    `create() normal path: ${Math.round(inserts / (tSeq / 1000))} cases/s sequential, ${Math.round(inserts / (tPar / 1000))} cases/s with 4 concurrent writers`,
  );

  // 3. Lists: 40 runs per filter, first page and a deep page through the cursor.
  const month = { from: YEAR_START + 200 * 86_400_000, to: YEAR_START + 230 * 86_400_000 };
  const hotCam = CAMERAS[0]!;
  const filters: Record<string, CaseFilters> = {
    none: {},
    camera: { cameraId: CAMERAS[Math.floor(CAMERAS.length / 2)]!.id },
    'camera+zone': { cameraId: hotCam.id, zoneId: 'z0' },
    'class+state': { classId: hotCam.classes[0], state: ['new', 'dispatched'] },
    category: { categoryCode: '0501' },
    'state (rare)': { state: 'reopened' },
    'month range': month,
    'class+month': { classId: hotCam.classes[0], ...month },
    'text (camera name)': { q: '路口 150 号' },
    'text+month': { q: 'z3', ...month },
  };
  const all: number[] = [];
  console.log('list (limit 50), ms:            p50     p95     max   (deep page = 20th page via cursor)');
  for (const [name, f] of Object.entries(filters)) {
    const times: number[] = [];
    for (let r = 0; r < 40; r++) {
      const [t] = await timeIt(() => store.list(f, { limit: 50 }));
      times.push(t);
    }
    let cursor: string | null = null;
    let deep = 0;
    for (let p = 0; p < 20; p++) {
      const [t, page] = await timeIt(() => store.list(f, { limit: 50, cursor }));
      deep = t;
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    all.push(...times);
    console.log(
      `  ${name.padEnd(28)} ${pct(times, 50).toFixed(1).padStart(7)} ${pct(times, 95).toFixed(1).padStart(7)} ${Math.max(...times)
        .toFixed(1)
        .padStart(7)}   deep ${deep.toFixed(1)}`,
    );
  }
  console.log(`  all filters                  p95 ${pct(all, 95).toFixed(1)} ms (target ≤ 50)`);
  // Plans: the filtered list must not scan the table. EXPLAIN ANALYZE's planning and execution
  // times (median of 5, server side, no client or network) are less sensitive to a loaded machine.
  console.log('list plans (server side, EXPLAIN ANALYZE, median of 5): planning / execution ms; scans');
  for (const [name, f] of Object.entries(filters)) {
    const q = store.listQuery(f, { limit: 50 }).compile(database.db);
    const explain = async (opts: string) =>
      (await database.db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${opts} ${q.sql}`, [...q.parameters]))).rows.map(
        (r) => r['QUERY PLAN'],
      );
    const plans: number[] = [];
    const execs: number[] = [];
    let lines: string[] = [];
    for (let r = 0; r < 5; r++) {
      lines = await explain('(analyze, buffers)');
      const ms = (re: RegExp) => Number(lines.map((l) => re.exec(l)?.[1]).find((x) => x !== undefined) ?? NaN);
      plans.push(ms(/Planning Time: ([\d.]+) ms/));
      execs.push(ms(/Execution Time: ([\d.]+) ms/));
    }
    const scans = [
      ...new Set(
        lines.flatMap((l) => {
          const m = /(Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using (\S+) )?on (\S+)/.exec(l);
          return m ? [`${m[1]} ${m[2] ?? m[3]}`] : [];
        }),
      ),
    ];
    console.log(
      `  plan ${name.padEnd(24)} ${pct(plans, 50).toFixed(1).padStart(6)} / ${pct(execs, 50).toFixed(1).padStart(6)}   ${lines.some((l) => /Seq Scan on cases/.test(l)) ? 'SEQ SCAN on cases! ' : ''}${scans.join(', ')}`,
    );
  }

  // 4. Statistics, hot spots, trend, matrix.
  const year = { from: YEAR_START, to: YEAR_START + YEAR_MS };
  const runs = async (name: string, fn: () => Promise<unknown>, target?: number) => {
    const ts: number[] = [];
    for (let r = 0; r < 5; r++) ts.push((await timeIt(fn))[0]);
    console.log(
      `${name.padEnd(34)} median ${pct(ts, 50).toFixed(0).padStart(5)} ms, max ${Math.max(...ts)
        .toFixed(0)
        .padStart(5)} ms${target ? ` (target ≤ ${target})` : ''}`,
    );
  };
  await runs('stats, whole year', () => store.stats(year), 1000);
  await runs('stats, one month', () => store.stats(month));
  await runs('hot spots top 10, whole year', () => store.hotSpots({ ...year, top: 10 }), 1000);
  await runs('hot spots top 10, one class, year', () => store.hotSpots({ ...year, classId: hotCam.classes[0], top: 10 }), 1000);
  await runs('week-over-week trend', () => store.trend({ at: year.to }));
  await runs('class×zone×hour×day matrix, month', () => store.matrix({ ...month, limit: 100_000 }));
  // The rollups must agree with the cases: the year's statistics against a direct count.
  const st = await store.stats(year);
  const { rows: direct } = await sql<{
    n: number;
    s: string;
  }>`select count(*)::int as n, count(*) filter (where state = 'closed')::int as s from cases where created_at >= ${year.from} and created_at <= ${year.to}`.execute(
    database.db,
  );
  const ok = st.total === Number(direct[0]!.n) && (st.byState.closed ?? 0) === Number(direct[0]!.s);
  console.log(
    `rollup check: stats total ${st.total}, direct count ${direct[0]!.n}; closed ${st.byState.closed}, direct ${direct[0]!.s} → ${ok ? 'agree' : 'DISAGREE'}`,
  );
  const { rows } = await sql<{ s: string; r: string; rc: number; hc: number }>`select pg_size_pretty(pg_total_relation_size('cases')) as s,
      pg_size_pretty(pg_total_relation_size('case_counts') + pg_total_relation_size('case_hour_counts') + pg_total_relation_size('case_hour_totals')) as r,
      (select count(*)::int from case_counts) as rc, (select count(*)::int from case_hour_counts) as hc`.execute(database.db);
  console.log(
    `cases table with indexes and toast: ${rows[0]!.s}; rollups ${rows[0]!.r} (${rows[0]!.rc} case_counts rows, ${rows[0]!.hc} case_hour_counts rows)`,
  );
  if (!ok) process.exitCode = 1;
} finally {
  await database.close();
  await pgServer?.destroy();
}
