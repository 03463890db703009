// The console's only way to the server: the documented HTTP API, with the user's key as a Bearer
// token. Errors keep the API's shape ({code, message, field}) so forms can show them at the field.
// The shapes of answers are the server's own types (type-only imports: erased from the bundle).
import type { ErrorBody } from '../../error-body';
import type { ReplayProgress, ReplayResultView } from '../../replay/processor';
import type { CaseRecord as StoredCase } from '../../../infra/stores/case-store';
import type { LiveRecord as StoredLive } from '../../../infra/stores/live-store';
import type { ClassStatus as ServerClassStatus } from '../../../pipeline/rules/class-status';
import type { Schedule as ConfigSchedule, Zone as ConfigZone } from '../../../pipeline/rules/config-schema';
import type { ReasonRecord as ServerReason } from '../../../pipeline/types';

const KEY_STORAGE = 'citywatch.apiKey';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function storedKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

let onUnauthorized: (() => void) | null = null;
/** Called when the server says the stored key is no longer valid (revoked, wrong deployment). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  key?: string;
  signal?: AbortSignal;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const key = opts.key ?? storedKey();
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, { method: opts.method ?? 'GET', headers, body, signal: opts.signal });
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = res.statusText || `HTTP ${res.status}`;
    let field: string | undefined;
    try {
      const j = (await res.json()) as Partial<ErrorBody>;
      if (j.error) {
        code = j.error.code ?? code;
        message = j.error.message ?? message;
        field = j.error.field;
      }
    } catch {
      /* not JSON: keep the status line */
    }
    if (res.status === 401 && !opts.key) onUnauthorized?.();
    throw new ApiError(res.status, code, message, field);
  }
  return res;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** An image (or other binary) that needs the key: returned as an object URL the caller revokes. */
export async function blobUrl(path: string, signal?: AbortSignal): Promise<string> {
  const res = await send(path, { headers: { Accept: 'image/*' }, signal });
  return URL.createObjectURL(await res.blob());
}

/** Query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

// ── Shapes of the API's answers that the console reads ──────────────────────────────────────────

export interface Me {
  keyId: string;
  name: string;
  role: string;
  operations: string[];
}

/** A zone as the console edits it (membership may be left to the server's default). */
export type Zone = Omit<ConfigZone, 'membership'> & Partial<Pick<ConfigZone, 'membership'>>;

export type Schedule = ConfigSchedule;

export interface CameraConfig {
  camera: { id: string; name?: string; timezone?: string };
  analysis: Record<string, unknown> & { fps?: number; model?: string; decode?: string };
  zones: Zone[];
  classes: Record<string, Record<string, unknown>>;
  [k: string]: unknown;
}

export interface CameraLive {
  state: string;
  reason?: string | null;
  since?: number;
  lastFrameAt?: number | null;
  decode?: 'keyframes' | 'full' | null;
  decodeReason?: string | null;
  analysedFps?: number | null;
  effectiveFps?: number | null;
}

export interface Camera {
  id: string;
  name?: string;
  url: string;
  detectUrl?: string | null;
  enabled: boolean;
  version: number;
  config: CameraConfig;
  live: CameraLive;
  openCases?: number;
}

/** GET /v1/cameras/:id/live: the worker's record, its JPEG's path added. */
export type LiveRecord = Omit<StoredLive, 'frame'> & { frame: (NonNullable<StoredLive['frame']> & { url: string }) | null };

export interface ClassInfo {
  id: string;
  nameZh: string;
  nameEn: string;
  urgency: string;
  defaults: Record<string, unknown>;
  available: boolean;
  reason: string;
}

export type ClassStatus = ServerClassStatus;

export type ReasonRecord = ServerReason;

export type CaseRecord = StoredCase;

export interface EvidenceItem {
  key: string;
  store: string;
  url: string | null;
  file: { name: string; kind: 'clip' | 'snapshot' | 'crop' | 'manifest'; contentType: string; bytes: number };
}

export type { RejectionRow } from '../../../infra/stores/case-store';

/** GET /v1/replays/:id. */
export interface ReplayView {
  id: string;
  state: string;
  input?: string;
  progress: ReplayProgress | null;
  error: string | null;
  result: ReplayResultView | null;
}
