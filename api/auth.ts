// API keys with roles. A key is 32 random bytes (256 bits) shown once at creation; only its sha256 is
// stored. A plain fast hash is enough here (unlike passwords): nobody can brute-force a 256-bit random
// secret, so a slow KDF would only add latency to every request. Lookup is by hash, so a stolen Redis
// dump holds no usable key.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Keys } from '../workers/redis.js';

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
  readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
  }

  private get byHash(): string {
    return this.keys.k('apikeys', 'by-hash');
  }
  private get records(): string {
    return this.keys.k('apikeys', 'records');
  }

  /** Creates a key; the secret is returned here and never again. */
  async create(name: string, role: Role, secret: string = generateKey(), id: string = `key_${randomUUID().slice(0, 12)}`): Promise<{ key: string; record: ApiKeyRecord }> {
    const record: ApiKeyRecord = { id, name, role, createdAt: Date.now(), hint: secret.slice(0, KEY_PREFIX.length + 4) };
    const h = hashKey(secret);
    const ok = await this.redis.hsetnx(this.byHash, h, id);
    if (!ok) throw new Error('an identical key already exists');
    await this.redis.hset(this.records, id, JSON.stringify({ ...record, hash: h }));
    return { key: secret, record };
  }

  async lookup(secret: string): Promise<ApiKeyRecord | null> {
    if (!secret) return null;
    const id = await this.redis.hget(this.byHash, hashKey(secret));
    if (!id) return null;
    const json = await this.redis.hget(this.records, id);
    if (!json) return null;
    const { hash: _h, ...rec } = JSON.parse(json) as ApiKeyRecord & { hash: string };
    return rec;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const all = await this.redis.hvals(this.records);
    return all
      .map((j) => {
        const { hash: _h, ...rec } = JSON.parse(j) as ApiKeyRecord & { hash: string };
        return rec;
      })
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async revoke(id: string): Promise<boolean> {
    const json = await this.redis.hget(this.records, id);
    if (!json) return false;
    const { hash } = JSON.parse(json) as { hash: string };
    await this.redis.multi().hdel(this.byHash, hash).hdel(this.records, id).exec();
    return true;
  }

  async hasAdmin(): Promise<boolean> {
    return (await this.list()).some((k) => k.role === 'admin');
  }
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
