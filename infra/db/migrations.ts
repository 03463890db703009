// Schema migrations, run at start by every process (Kysely's Migrator takes a lock, so workers that
// start together apply each migration once). Plain SQL, identical on PostgreSQL and PGlite.
// Append new migrations; never edit one that has shipped.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const texts: string[] = [];
/** Changes whenever a migration's text does (names the cached PGlite template). */
export function schemaFingerprint(): string {
  return texts.join('\n--\n');
}

function raw(statements: string): Migration {
  texts.push(statements);
  return {
    async up(db: Kysely<unknown>) {
      for (const s of statements
        .split(/;\s*\n/)
        .map((x) => x.trim())
        .filter(Boolean))
        await sql.raw(s).execute(db);
    },
  };
}

/** Statements given one by one (for bodies such as PL/pgSQL functions that contain semicolons). */
function each(...statements: string[]): Migration {
  texts.push(statements.join('\n--\n'));
  return {
    async up(db: Kysely<unknown>) {
      for (const s of statements) await sql.raw(s).execute(db);
    },
  };
}

// Rollups of cases, kept by statement-level triggers (transition tables, so a bulk insert of 5000
// cases is one grouped upsert, a single create one small one) in the same transaction as the change.
// Two grains: per UTC day (grain 1) and per 32-day block (grain 32); a query over [from, to] reads the
// whole blocks, then the whole days at the edges, then the cases of the partial days at the very
// edges (CaseStore.stats/hotSpots/trend). A null zone or category is '' here (part of the key).
//   case_counts       day × camera × zone × class × state × category  (stats, hot spots, trend)
//   case_hour_counts  day × camera × zone × class × local hour        (hot spots' peak hour)
//   case_hour_totals  day × class × local hour                        (stats by hour)
// Deltas are applied in key order (ORDER BY) so concurrent writers lock rollup rows in one order.
const ROLLUP_GRAINS = '(VALUES (1::smallint), (32::smallint)) g(grain)';
const BUCKET = 'floor(d.created_at::numeric / (86400000::numeric * g.grain))::int';
function rollupDelta(source: string): string {
  const d = `(${source}) d CROSS JOIN ${ROLLUP_GRAINS}`;
  return `
    INSERT INTO case_counts AS t (grain, bucket, camera_id, zone_id, class_id, state, category_code, n)
      SELECT g.grain, ${BUCKET}, d.camera_id, coalesce(d.zone_id, ''), d.class_id, d.state, coalesce(d.category_code, ''), sum(d.s)
      FROM ${d} GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7
      ON CONFLICT (grain, bucket, camera_id, zone_id, class_id, state, category_code) DO UPDATE SET n = t.n + excluded.n;
    INSERT INTO case_hour_counts AS t (camera_id, zone_id, grain, bucket, class_id, local_hour, n)
      SELECT d.camera_id, coalesce(d.zone_id, ''), g.grain, ${BUCKET}, d.class_id, d.local_hour, sum(d.s)
      FROM ${d} GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (camera_id, zone_id, grain, bucket, class_id, local_hour) DO UPDATE SET n = t.n + excluded.n;
    INSERT INTO case_hour_totals AS t (grain, bucket, class_id, local_hour, n)
      SELECT g.grain, ${BUCKET}, d.class_id, d.local_hour, sum(d.s)
      FROM ${d} GROUP BY 1, 2, 3, 4 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4
      ON CONFLICT (grain, bucket, class_id, local_hour) DO UPDATE SET n = t.n + excluded.n;`;
}
const ROLLUP_COLS = 'created_at, camera_id, zone_id, class_id, state, category_code, local_hour';

export const MIGRATIONS: Record<string, Migration> = {
  // Cases: the columns we filter, sort and count on are real columns with indexes; the rest of the
  // record (names, boxes, reason record, extras) is one jsonb document. The small toast_tuple_target
  // was meant to move the document out of the heap; it does not (PostgreSQL toasts only rows over
  // ~2 KB), so a case row is ~1.7 KB — see 0003 for what that means to the list's text filter.
  '0001_cases': raw(`
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE TABLE cases (
      id text PRIMARY KEY,
      idempotency_key text NOT NULL UNIQUE,
      camera_id text NOT NULL,
      class_id text NOT NULL,
      zone_id text,
      state text NOT NULL,
      category_code text,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      first_seen_at bigint NOT NULL,
      last_seen_at bigint NOT NULL,
      due_at bigint NOT NULL,
      local_hour smallint NOT NULL,
      local_day date NOT NULL,
      evidence_status text NOT NULL,
      reappearances integer NOT NULL DEFAULT 0,
      rev integer NOT NULL DEFAULT 1,
      search text NOT NULL DEFAULT '',
      doc jsonb NOT NULL
    ) WITH (toast_tuple_target = 128);
    CREATE INDEX cases_created ON cases (created_at DESC, id DESC);
    CREATE INDEX cases_camera ON cases (camera_id, created_at DESC, id DESC);
    CREATE INDEX cases_zone ON cases (camera_id, zone_id, created_at DESC, id DESC);
    CREATE INDEX cases_class ON cases (class_id, created_at DESC, id DESC);
    CREATE INDEX cases_state ON cases (state, created_at DESC, id DESC);
    CREATE INDEX cases_category ON cases (category_code, created_at DESC, id DESC);
    CREATE INDEX cases_open ON cases (camera_id, class_id, last_seen_at) WHERE state IN ('new', 'dispatched', 'reopened');
    CREATE INDEX cases_state_camera ON cases (camera_id, state);
    CREATE INDEX cases_search ON cases USING gin (search gin_trgm_ops);
    -- Statistics over a range read only this index (index-only scan), never the documents.
    CREATE INDEX cases_stats ON cases (created_at) INCLUDE (camera_id, zone_id, class_id, state, local_hour, category_code);
    -- Every episode key that maps to a case: the first one opened it, later ones were merged in.
    CREATE TABLE case_episodes (
      episode_key text PRIMARY KEY,
      case_id text NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
      seq bigserial NOT NULL,
      at bigint NOT NULL
    );
    CREATE INDEX case_episodes_case ON case_episodes (case_id, seq);
    -- Life cycle and merges, append-only. details holds a merge's episode key, reason record, IoU and window.
    CREATE TABLE case_history (
      seq bigserial PRIMARY KEY,
      case_id text NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
      at bigint NOT NULL,
      kind text NOT NULL,
      from_state text,
      to_state text NOT NULL,
      reason text,
      actor text,
      details jsonb
    );
    CREATE INDEX case_history_case ON case_history (case_id, seq);
    CREATE TABLE case_evidence (
      case_id text NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
      key text NOT NULL,
      seq bigserial NOT NULL,
      added_at bigint NOT NULL,
      ref jsonb NOT NULL,
      PRIMARY KEY (case_id, key)
    );
    CREATE TABLE case_verifications (
      seq bigserial PRIMARY KEY,
      case_id text NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
      at bigint NOT NULL,
      result text,
      presence_ratio double precision,
      doc jsonb NOT NULL
    );
    CREATE INDEX case_verifications_case ON case_verifications (case_id, seq);
    CREATE TABLE api_keys (
      id text PRIMARY KEY,
      name text NOT NULL,
      role text NOT NULL,
      hash text NOT NULL UNIQUE,
      hint text NOT NULL,
      created_at bigint NOT NULL,
      revoked_at bigint
    );
    CREATE TABLE notices (
      id text PRIMARY KEY,
      episode_key text NOT NULL UNIQUE,
      camera_id text NOT NULL,
      class_id text NOT NULL,
      zone_id text,
      state text NOT NULL,
      created_at bigint NOT NULL,
      grace_until bigint NOT NULL,
      resolved_at bigint,
      case_id text,
      doc jsonb NOT NULL
    );
    CREATE INDEX notices_created ON notices (created_at DESC, id DESC);
    CREATE INDEX notices_open ON notices (camera_id, state)
  `),
  '0002_case_rollups': each(
    `CREATE TABLE case_counts (
      grain smallint NOT NULL, bucket integer NOT NULL, camera_id text NOT NULL, zone_id text NOT NULL, class_id text NOT NULL,
      state text NOT NULL, category_code text NOT NULL, n integer NOT NULL,
      PRIMARY KEY (grain, bucket, camera_id, zone_id, class_id, state, category_code))`,
    // Led by camera and zone: hot spots read the hours of their top-N zones only.
    `CREATE TABLE case_hour_counts (
      camera_id text NOT NULL, zone_id text NOT NULL, grain smallint NOT NULL, bucket integer NOT NULL, class_id text NOT NULL,
      local_hour smallint NOT NULL, n integer NOT NULL,
      PRIMARY KEY (camera_id, zone_id, grain, bucket, class_id, local_hour))`,
    `CREATE TABLE case_hour_totals (
      grain smallint NOT NULL, bucket integer NOT NULL, class_id text NOT NULL, local_hour smallint NOT NULL, n integer NOT NULL,
      PRIMARY KEY (grain, bucket, class_id, local_hour))`,
    `CREATE FUNCTION case_rollup_ins() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN${rollupDelta(`SELECT ${ROLLUP_COLS}, 1 AS s FROM new_rows`)}
      RETURN NULL;
    END $$`,
    `CREATE FUNCTION case_rollup_del() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN${rollupDelta(`SELECT ${ROLLUP_COLS}, -1 AS s FROM old_rows`)}
      RETURN NULL;
    END $$`,
    // Most updates (evidence, latest sighting) change no rolled-up column: nothing to do.
    `CREATE FUNCTION case_rollup_upd() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM (SELECT ${ROLLUP_COLS} FROM old_rows EXCEPT ALL SELECT ${ROLLUP_COLS} FROM new_rows) x) THEN RETURN NULL; END IF;${rollupDelta(`SELECT ${ROLLUP_COLS}, -1 AS s FROM old_rows UNION ALL SELECT ${ROLLUP_COLS}, 1 FROM new_rows`)}
      RETURN NULL;
    END $$`,
    `CREATE FUNCTION case_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      TRUNCATE case_counts, case_hour_counts, case_hour_totals;
      RETURN NULL;
    END $$`,
    'CREATE TRIGGER cases_rollup_ins AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_ins()',
    'CREATE TRIGGER cases_rollup_upd AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_upd()',
    'CREATE TRIGGER cases_rollup_del AFTER DELETE ON cases REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_del()',
    'CREATE TRIGGER cases_rollup_truncate AFTER TRUNCATE ON cases FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_truncate()',
    // Cases stored before this migration.
    `DO $$ BEGIN${rollupDelta(`SELECT ${ROLLUP_COLS}, 1 AS s FROM cases`)}
    END $$`,
  ),
  // Text filters without heap visits. A case row is ~1.7 KB (the document stays inline: PostgreSQL
  // only toasts rows over ~2 KB, whatever toast_tuple_target says), so filtering `search` row by row
  // in created_at order read one heap page per case looked at (195 ms for a camera name at 1M). The
  // list's order index now carries the search text: a text filter, alone or with a time range, is an
  // index-only walk in list order (the trigram index still serves rare terms). It replaces
  // cases_created (same key). The text is capped at SEARCH_TEXT_MAX characters (CaseStore) so an
  // index entry stays under B-tree's ~2.7 KB limit even in 4-byte characters.
  '0003_case_list_search': raw(`
    UPDATE cases SET search = left(search, 600) WHERE length(search) > 600;
    CREATE INDEX cases_created_search ON cases (created_at DESC, id DESC) INCLUDE (search);
    DROP INDEX cases_created
  `),
  // Webhook deliveries (infra/delivery/delivery.ts), the transactional outbox: a case.created row is
  // written in its case's transaction; BullMQ in Redis only schedules attempts, and a relay queues
  // every pending row again after Redis lost its jobs.
  '0004_deliveries': raw(`
    CREATE TABLE deliveries (
      idempotency_key text PRIMARY KEY,
      type text NOT NULL,
      status text NOT NULL CHECK (status IN ('held', 'pending', 'delivered', 'dead', 'skipped')),
      body text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      last_status integer,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      delivered_at bigint,
      dead_at bigint,
      redeliveries integer NOT NULL DEFAULT 0
    );
    CREATE INDEX deliveries_open ON deliveries (created_at, idempotency_key) WHERE status IN ('held', 'pending');
    CREATE INDEX deliveries_dead ON deliveries (dead_at DESC) WHERE status = 'dead'
  `),
};

class InlineProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new InlineProvider(),
    migrationTableName: 'cw_migrations',
    migrationLockTableName: 'cw_migrations_lock',
    // Migrations written on parallel branches land in any order (0004 may be applied before 0003).
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
