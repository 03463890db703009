// The console's only way to the server: the documented HTTP API, with the user's key as a Bearer
// token. Errors keep the API's shape ({code, message, field}) so forms can show them at the field.

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
      const j = (await res.json()) as { error?: { code?: string; message?: string; field?: string } };
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

export interface Zone {
  id: string;
  name?: string;
  type: string;
  polygon: [number, number][];
  membership?: { mode: 'footprint'; insideMargin?: number } | { mode: 'overlap'; minRatio?: number };
  schedule?: Schedule;
  capacity?: number;
}

export interface Schedule {
  mode: 'enforce' | 'exempt';
  timezone: string;
  windows: { days: number[]; start: string; end: string }[];
}

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

export interface LiveRecord {
  cameraId: string;
  configVersion: number;
  frameIndex: number;
  streamTime: number;
  wallTime: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: { label: string; score: number; box: [number, number, number, number] }[];
  tracks: { id: number; label: string; score: number; box: [number, number, number, number]; ageSec: number; stationarySec?: number }[];
  subjects: {
    trackId: number | null;
    subject?: string;
    label?: string;
    classId: string;
    zoneId?: string | null;
    status: 'candidate' | 'confirmed' | 'refused';
    phase?: string | null;
    rule?: string;
    detail?: string;
  }[];
  /** Zones of the config version that analysed this frame. */
  zones?: Zone[];
  frame?: { width: number; height: number; url: string } | null;
}

export interface ClassInfo {
  id: string;
  nameZh: string;
  nameEn: string;
  urgency: string;
  defaults: Record<string, unknown>;
  available: boolean;
  reason: string;
}

export interface ClassStatus {
  id: string;
  nameZh: string;
  nameEn: string;
  active: boolean;
  reason: string;
  urgency: string;
  zoneIds: string[];
  thresholds: Record<string, unknown>;
}

export interface ReasonRecord {
  classId: string;
  zoneId: string | null;
  zoneType: string | null;
  subject: string;
  trackIds: number[];
  dwellSec: number;
  hits: number;
  window: number;
  medianScore: number;
  thresholds: Record<string, number>;
  firstSeen: number;
  lastSeen: number;
  note?: string;
}

export interface CaseRecord {
  id: string;
  cameraId: string;
  cameraName?: string;
  classId: string;
  nameZh: string;
  nameEn: string;
  zoneId: string | null;
  zoneName?: string;
  zoneType: string | null;
  state: string;
  urgency: string;
  createdAt: number;
  firstSeenAt: number;
  lastSeenAt: number;
  dueAt: number;
  responsibleParty: string;
  reason: ReasonRecord;
  evidenceStatus: string;
  reappearances: number;
  history: { at: number; from: string | null; to: string; reason?: string; actor?: string; kind?: string }[];
}

export interface EvidenceItem {
  key: string;
  store: string;
  url: string | null;
  file: { name: string; kind: 'clip' | 'snapshot' | 'crop' | 'manifest'; contentType: string; bytes: number };
}

export interface RejectionRow {
  cameraId: string;
  classId: string;
  zoneId: string | null;
  cases: number;
  rejected: number;
  rejectionRate: number;
  reasons: { reason: string; count: number }[];
}

export interface ReplayView {
  id: string;
  state: string;
  input?: string;
  progress: { seconds: number; duration: number | null; percent: number | null; frames: number; events: number } | null;
  error: string | null;
  result: {
    summary?: Record<string, unknown>;
    events: {
      id: string;
      episodeId: string;
      classId: string;
      transition: string;
      streamTime: number;
      start: number;
      end: number | null;
      reason: { zoneId: string | null };
    }[];
    cases: {
      episodeId: string;
      classId: string;
      nameZh: string;
      nameEn: string;
      zoneId: string | null;
      start: number;
      confirmedAt: number;
      end: number | null;
      snapshot: { url: string } | null;
    }[];
    evaluation: {
      total: { precision: number; recall: number; tp?: number; fp?: number; fn?: number };
      classes: { classId: string; precision: number; recall: number }[];
    } | null;
  } | null;
}
