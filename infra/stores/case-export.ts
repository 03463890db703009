// Case exports for the platform and GIS tools: CSV (RFC 4180, UTF-8 with BOM so spreadsheet tools
// read the Chinese names) and GeoJSON (RFC 7946: [lon, lat], a null geometry when the camera has no
// configured location). Pure: the caller supplies cases and camera locations.
import type { CaseRecord } from './case-store.js';

export interface CameraLocation {
  lat: number;
  lon: number;
  address?: string;
}

const COLUMNS = [
  'id',
  'createdAt',
  'state',
  'classId',
  'nameZh',
  'nameEn',
  'categoryCode',
  'urgency',
  'dueAt',
  'cameraId',
  'cameraName',
  'zoneId',
  'zoneName',
  'lat',
  'lon',
  'address',
  'firstSeenAt',
  'lastSeenAt',
  'reappearances',
  'evidenceStatus',
  'responsibleParty',
] as const;

const iso = (ms: number) => new Date(ms).toISOString();

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  // A text cell starting with = + - @ (or a tab/CR) is run as a formula by spreadsheet tools.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function row(c: CaseRecord, loc: CameraLocation | undefined): Record<(typeof COLUMNS)[number], unknown> {
  return {
    id: c.id,
    createdAt: iso(c.createdAt),
    state: c.state,
    classId: c.classId,
    nameZh: c.nameZh,
    nameEn: c.nameEn,
    categoryCode: c.categoryCode ?? null,
    urgency: c.urgency,
    dueAt: iso(c.dueAt),
    cameraId: c.cameraId,
    cameraName: c.cameraName ?? null,
    zoneId: c.zoneId,
    zoneName: c.zoneName ?? null,
    lat: loc?.lat ?? null,
    lon: loc?.lon ?? null,
    address: loc?.address ?? null,
    firstSeenAt: iso(c.firstSeenAt),
    lastSeenAt: iso(c.lastSeenAt),
    reappearances: c.reappearances,
    evidenceStatus: c.evidenceStatus,
    responsibleParty: c.responsibleParty,
  };
}

export function csvHeader(): string {
  return '\uFEFF' + COLUMNS.join(',') + '\r\n';
}

export function csvRows(cases: readonly CaseRecord[], locations: ReadonlyMap<string, CameraLocation | undefined>): string {
  return cases
    .map((c) => {
      const r = row(c, locations.get(c.cameraId));
      return COLUMNS.map((k) => cell(r[k])).join(',') + '\r\n';
    })
    .join('');
}

export function geoJsonFeature(c: CaseRecord, loc: CameraLocation | undefined): object {
  const { lat: _lat, lon: _lon, ...props } = row(c, loc);
  return { type: 'Feature', id: c.id, geometry: loc ? { type: 'Point', coordinates: [loc.lon, loc.lat] } : null, properties: props };
}
