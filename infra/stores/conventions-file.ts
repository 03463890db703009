// Reads a city's conventions file (YAML or JSON: category codes, time limits, working calendar) and
// validates it with the one schema in conventions.ts. A bad file is a clear start-up error.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { conventionsSchema, makeConventions, type CaseConventions } from './conventions.js';

export async function loadConventions(file: string | null | undefined): Promise<CaseConventions> {
  if (!file) return makeConventions({});
  let raw: unknown;
  try {
    raw = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`city conventions ${file}: ${(err as Error).message}`, { cause: err });
  }
  const r = conventionsSchema.safeParse(raw ?? {});
  if (!r.success) throw new Error(`city conventions ${file}: ${z.prettifyError(r.error)}`);
  return makeConventions(r.data);
}
