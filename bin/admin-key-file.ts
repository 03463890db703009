// The embedded mode's admin key: generated on the first start and kept in DATA_DIR (mode 0600), so
// every restart prints the same key and a user never has to catch a one-time line scrolling past.
// CITYWATCH_ADMIN_KEY overrides it (and is never written to disk).
import { chmod, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { generateKey, MIN_KEY_LENGTH } from '../api/auth.js';

export const ADMIN_KEY_FILE = 'admin-key';

export interface EmbeddedAdminKey {
  key: string;
  /** env: CITYWATCH_ADMIN_KEY; file: read from the key file; generated: written now. */
  source: 'env' | 'file' | 'generated';
  /** The key file (also for source 'env', where it is neither read nor written). */
  file: string;
}

export async function embeddedAdminKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<EmbeddedAdminKey> {
  const file = path.join(dataDir, ADMIN_KEY_FILE);
  if (env.CITYWATCH_ADMIN_KEY) return { key: env.CITYWATCH_ADMIN_KEY, source: 'env', file };
  const existing = await readKeyFile(file);
  if (existing) return { key: existing, source: 'file', file };
  const key = generateKey();
  // 'wx': two starts racing on one DATA_DIR must not both write; the loser reads the winner's key.
  try {
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.writeFile(key + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = await readKeyFile(file);
    if (!raced) throw new Error(`${file} exists but holds no admin key; delete it to generate a new one`, { cause: err });
    return { key: raced, source: 'file', file };
  }
  return { key, source: 'generated', file };
}

async function readKeyFile(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const key = text.trim();
  if (key.length < MIN_KEY_LENGTH)
    throw new Error(`${file} holds no usable admin key (under ${MIN_KEY_LENGTH} characters); delete it to generate a new one`);
  // A key file copied in with a loose mode is tightened: it is an admin credential.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  return key;
}
