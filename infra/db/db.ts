// The system of record: PostgreSQL 15+ when DATABASE_URL is set, else PGlite (PostgreSQL compiled to
// WASM, in-process) with its data under DATA_DIR/pglite, so one machine needs no database server.
// Both are driven through Kysely, so every query and migration is the same SQL on both.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
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
    const db: Db = new Kysely({ dialect: new PostgresDialect({ pool }) });
    out = { db, kind: 'postgres', where: redactUrl(opts.url), close: () => db.destroy() };
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
