// API keys with roles. A key is 32 random bytes (256 bits) shown once at creation; only its sha256 is
// stored. A plain fast hash is enough here (unlike passwords): nobody can brute-force a 256-bit random
// secret, so a slow KDF would only add latency to every request. Lookup is by hash, so a stolen database
// dump holds no usable key. Keys live in PostgreSQL (api_keys).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../infra/db/db.js';

export const ROLES = ['admin', 'operator', 'platform', 'tester'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  /** First characters of the key, so an operator can tell keys apart without the secret. */
  hint: string;
}

const KEY_PREFIX = 'cwk_';
/** A bootstrap key given through the environment must be long enough to be unguessable. */
export const MIN_KEY_LENGTH = 24;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export class ApiKeyStore {
  constructor(private readonly db: Db) {}

  /** Creates a key; the secret is returned here and never again. */
  async create(
    name: string,
    role: Role,
    secret: string = generateKey(),
    id: string = `key_${randomUUID().slice(0, 12)}`,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const record: ApiKeyRecord = { id, name, role, createdAt: Date.now(), hint: secret.slice(0, KEY_PREFIX.length + 4) };
    const res =
      await sql`insert into api_keys (id, name, role, hash, hint, created_at) values (${id}, ${name}, ${role}, ${hashKey(secret)}, ${record.hint}, ${record.createdAt})
      on conflict do nothing`.execute(this.db);
    if (!Number(res.numAffectedRows ?? 0)) throw new Error('an identical key already exists');
    return { key: secret, record };
  }

  async lookup(secret: string): Promise<ApiKeyRecord | null> {
    if (!secret) return null;
    const { rows } =
      await sql<Row>`select id, name, role, created_at, hint from api_keys where hash = ${hashKey(secret)} and revoked_at is null`.execute(
        this.db,
      );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const { rows } =
      await sql<Row>`select id, name, role, created_at, hint from api_keys where revoked_at is null order by created_at, id`.execute(
        this.db,
      );
    return rows.map(toRecord);
  }

  /** Revokes a key. The row stays (revoked_at set) so an audit can still name who a key was. */
  async revoke(id: string): Promise<boolean> {
    const res = await sql`update api_keys set revoked_at = ${Date.now()} where id = ${id} and revoked_at is null`.execute(this.db);
    return Number(res.numAffectedRows ?? 0) > 0;
  }

  async hasAdmin(): Promise<boolean> {
    const { rows } = await sql`select 1 from api_keys where role = 'admin' and revoked_at is null limit 1`.execute(this.db);
    return rows.length > 0;
  }
}

type Row = { id: string; name: string; role: Role; created_at: number; hint: string };
function toRecord(r: Row): ApiKeyRecord {
  return { id: r.id, name: r.name, role: r.role, createdAt: Number(r.created_at), hint: r.hint };
}

/**
 * Makes sure an admin can get in. With CITYWATCH_ADMIN_KEY set, that key is registered (idempotent);
 * otherwise, on the very first start (no admin key stored), a key is generated and returned so the
 * caller prints it once. Returns null when nothing new was generated.
 */
export async function bootstrapAdmin(store: ApiKeyStore, envKey: string | undefined): Promise<{ generated: string | null }> {
  if (envKey !== undefined && envKey !== '') {
    if (envKey.length < MIN_KEY_LENGTH) throw new Error(`CITYWATCH_ADMIN_KEY must be at least ${MIN_KEY_LENGTH} characters of random text`);
    if (!(await store.lookup(envKey))) await store.create('bootstrap admin (CITYWATCH_ADMIN_KEY)', 'admin', envKey);
    return { generated: null };
  }
  if (await store.hasAdmin()) return { generated: null };
  const { key } = await store.create('bootstrap admin (generated at first start)', 'admin');
  return { generated: key };
}

/** The key from `Authorization: Bearer …` or `X-API-Key`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers['authorization'];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  const x = headers['x-api-key'];
  return typeof x === 'string' && x.trim() ? x.trim() : null;
}
