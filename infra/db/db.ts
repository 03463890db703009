// The system of record: PostgreSQL 15+ when DATABASE_URL is set, else PGlite (PostgreSQL compiled to
// WASM, in-process) with its data under DATA_DIR/pglite, so one machine needs no database server.
// Both are driven through Kysely, so every query and migration is the same SQL on both.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, sql, type Dialect } from 'kysely';
import { backoffDelay } from '../../pipeline/backoff.js';
import pg from 'pg';
import { redactUrl } from '../../pipeline/source/input-url.js';
import { REPO_ROOT } from '../settings.js';
import { MIGRATIONS, migrateToLatest, schemaFingerprint } from './migrations.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Where it lives (URL without password, or the PGlite directory / "memory"). */
  where: string;
  /** Resolves once the database is reachable and migrated (at once unless opened with `background`). */
  ready: Promise<void>;
  /** Null once ready; until then why not (for logs, readiness and 503 answers). */
  notReady(): string | null;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres://… (PostgreSQL); empty/undefined = PGlite. */
  url?: string | null;
  /** PGlite data directory; undefined = in memory (tests). */
  dataDir?: string;
  /** Pool size for PostgreSQL (default 10). */
  poolSize?: number;
  /** Run migrations (default true). */
  migrate?: boolean;
  /**
   * PostgreSQL only: return at once, and connect and migrate in the background, retrying with
   * backoff (pipeline/backoff.ts) while the server is down. Until then every query fails as
   * unreachable (SQLSTATE 08001, see isConnectionError), so the case outbox journals and the API
   * answers 503, instead of the process failing to start.
   */
  background?: boolean;
  /** Told about each failed background attempt. */
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

/** The error a query gets while a background database is not reachable/migrated yet. */
export class DatabaseNotReadyError extends Error {
  readonly code = '08001';
}

/** A dialect whose connections are refused until `gate()` returns null (the reason otherwise). */
function gatedDialect(inner: Dialect, gate: () => string | null): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createDriver: () => {
      const d = inner.createDriver();
      const acquire = d.acquireConnection.bind(d);
      d.acquireConnection = async () => {
        const why = gate();
        if (why !== null) throw new DatabaseNotReadyError(`database not available yet: ${why}`);
        return acquire();
      };
      return d;
    },
  };
}

const INT8 = 20;
const DATE = 1082;

/**
 * Opens the database and brings its schema to the latest migration. Epoch-millisecond columns are
 * bigint; both drivers hand them back as JS numbers (exact up to 2^53, i.e. the year 287396).
 */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  let out: Database;
  if (opts.url) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      // A database that is down must fail fast so callers can fall back to the outbox.
      connectionTimeoutMillis: 5000,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8
            ? (v: string) => Number(v)
            : oid === DATE
              ? (v: string) => v
              : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client that loses its server emits 'error' on the pool; without a listener that crashes the process.
    pool.on('error', () => undefined);
    if (opts.background) return openInBackground(pool, redactUrl(opts.url), opts);
    const db: Db = new Kysely({ dialect: new PostgresDialect({ pool }) });
    out = { db, kind: 'postgres', where: redactUrl(opts.url), ready: Promise.resolve(), notReady: () => null, close: () => db.destroy() };
  } else {
    const [{ PGlite }, { pg_trgm }, { PGliteDialect }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite/contrib/pg_trgm'),
      import('kysely-pglite-dialect'),
    ]);
    if (opts.dataDir) await mkdir(path.dirname(opts.dataDir), { recursive: true });
    const unlock = opts.dataDir ? await lockDir(opts.dataDir) : async () => undefined;
    const isNew = !opts.dataDir || !existsSync(path.join(opts.dataDir, 'PG_VERSION'));
    // A new PGlite database starts from a migrated template (WASM initdb costs 10-30 s on a busy
    // 2-core machine; loading the template about 2 s). The template is built once per schema.
    const template = isNew && opts.migrate !== false ? await pgliteTemplate() : undefined;
    const lite = await PGlite.create({
      dataDir: opts.dataDir,
      loadDataDir: template,
      extensions: { pg_trgm },
      parsers: { [DATE]: (v: string) => v },
    });
    const db: Db = new Kysely({ dialect: new PGliteDialect(lite) });
    out = {
      db,
      kind: 'pglite',
      where: opts.dataDir ?? 'memory',
      ready: Promise.resolve(),
      notReady: () => null,
      close: async () => {
        await db.destroy();
        await unlock();
      },
    };
  }
  if (opts.migrate !== false) {
    try {
      await migrateToLatest(out.db);
    } catch (err) {
      await out.close().catch(() => undefined);
      throw err;
    }
  }
  return out;
}

/** Connects and migrates in the background (see OpenDatabaseOptions.background). */
function openInBackground(pool: pg.Pool, where: string, opts: OpenDatabaseOptions): Database {
  let reason: string | null = 'connecting';
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  // Migrations go through their own (ungated) Kysely over the same pool; queries wait for them.
  const raw: Db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  const db: Db = new Kysely({ dialect: gatedDialect(new PostgresDialect({ pool }), () => reason) });
  const ready = (async () => {
    for (let attempt = 1; !closed; attempt++) {
      try {
        if (opts.migrate !== false) await migrateToLatest(raw);
        else await ping(raw);
        reason = null;
        return;
      } catch (err) {
        const wait = backoffDelay(attempt, { initialMs: 500, maxMs: 15_000 });
        reason = `attempt ${attempt} failed (${(err as Error).message}); next in ${Math.round(wait / 1000)} s`;
        opts.log?.('database not reachable; retrying in the background', {
          where,
          attempt,
          retryInMs: wait,
          error: (err as Error).message,
        });
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, wait);
        });
      }
    }
    throw new Error('database closed before it was reachable');
  })();
  ready.catch(() => undefined);
  return {
    db,
    kind: 'postgres',
    where,
    ready,
    notReady: () => reason,
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      (wake as (() => void) | null)?.();
      await ready.catch(() => undefined);
      await db.destroy();
      // The gated Kysely ends the pool only if it ever ran a query.
      await pool.end().catch(() => undefined);
    },
  };
}

/**
 * PGlite is one process's database: a second process opening the same directory would corrupt it.
 * A lock file names the owner; a lock left by a dead process is taken over.
 */
const lockedHere = new Set<string>();
async function lockDir(dataDir: string): Promise<() => Promise<void>> {
  const file = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      lockedHere.add(file);
      return async () => {
        lockedHere.delete(file);
        await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      let alive = false;
      try {
        // Our own pid counts only if this process holds it (a container restart reuses pid 1).
        alive = pid === process.pid ? lockedHere.has(file) : pid > 0 && (process.kill(pid, 0), true);
      } catch {
        alive = false;
      }
      if (alive)
        throw new Error(
          `PGlite database ${dataDir} is in use by process ${pid}; PGlite serves one process — set DATABASE_URL (PostgreSQL) to run the API and workers as separate processes`,
          { cause: err },
        );
      await rm(file, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

let templateBuild: Promise<Blob> | null = null;

/** A gzipped PGlite data directory with every migration applied, cached under .cache/pglite. */
async function pgliteTemplate(): Promise<Blob> {
  templateBuild ??= (async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as {
      version: string;
    };
    const h = createHash('sha256').update(pkg.version);
    h.update(Object.keys(MIGRATIONS).join(',')).update(schemaFingerprint());
    const dir = process.env.PGLITE_TEMPLATE_DIR ?? path.join(REPO_ROOT, '.cache', 'pglite');
    const file = path.join(dir, `template-${h.digest('hex').slice(0, 16)}.tar.gz`);
    if (existsSync(file)) return new Blob([await readFile(file)]);
    const lite = await PGlite.create({ extensions: { pg_trgm } });
    const { PGliteDialect } = await import('kysely-pglite-dialect');
    const db: Db = new Kysely({ dialect: new PGliteDialect(lite) });
    await migrateToLatest(db);
    const blob = await lite.dumpDataDir('gzip');
    await db.destroy();
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.from(await blob.arrayBuffer()));
    await rename(tmp, file);
    return blob;
  })();
  templateBuild.catch(() => (templateBuild = null));
  return templateBuild;
}

/** Is this error the database being unreachable (as opposed to a bad query)? */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (
    e.code &&
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|57P01|57P02|57P03|08000|08001|08003|08004|08006)$/.test(e.code)
  )
    return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|terminating connection|the database system is (starting|shutting) up|ECONNREFUSED/i.test(
    e.message ?? '',
  );
}

export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
