// Zone editor on the live frame: click to add vertices, drag to move them, right-click (or Delete)
// to remove one; type, name and schedule per zone. Saved with If-Match on the camera version: a
// conflicting save is refused by the API (412) and said so, never silently overwritten.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Camera, type Schedule, type Zone } from '../api';
import { ZONE_TYPES } from '../../../../pipeline/rules/zone-types';
import { t, zoneTypeName } from '../i18n';
import { FrameOverlay, zoneColour } from '../overlay';
import { onLink } from '../router';
import { can } from '../session';
import { ErrorBox, FieldError, Loading, useApi } from '../ui';
import { useLive } from './camera-view';
import { TryPanel } from './try';

const DAY_NAMES: Record<'zh' | 'en', string[]> = {
  zh: ['一', '二', '三', '四', '五', '六', '日'],
  en: ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'],
};
const round = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

function ScheduleEditor({
  schedule,
  onChange,
  error,
  prefix,
  disabled,
}: {
  schedule: Schedule | undefined;
  onChange: (s: Schedule | undefined) => void;
  error: Error | null;
  prefix: string;
  disabled: boolean;
}) {
  const lang = document.documentElement.lang.startsWith('zh') ? 'zh' : 'en';
  return (
    <fieldset class="schedule" disabled={disabled}>
      <legend>{t('schedule')}</legend>
      <select
        name="scheduleMode"
        value={schedule?.mode ?? 'none'}
        onChange={(e) => {
          const v = e.currentTarget.value;
          if (v === 'none') onChange(undefined);
          else
            onChange({
              mode: v as 'enforce' | 'exempt',
              timezone: schedule?.timezone ?? 'Asia/Shanghai',
              windows: schedule?.windows.length ? schedule.windows : [{ days: [1, 2, 3, 4, 5, 6, 7], start: '18:00', end: '23:00' }],
            });
        }}
      >
        <option value="none">{t('scheduleNone')}</option>
        <option value="enforce">{t('scheduleEnforce')}</option>
        <option value="exempt">{t('scheduleExempt')}</option>
      </select>
      {schedule && (
        <>
          <label>
            {t('timezone')}{' '}
            <input name="timezone" value={schedule.timezone} onInput={(e) => onChange({ ...schedule, timezone: e.currentTarget.value })} />
          </label>
          <FieldError error={error} field={`${prefix}.timezone`} />
          {schedule.windows.map((w, i) => {
            const upd = (nw: Partial<typeof w>) =>
              onChange({ ...schedule, windows: schedule.windows.map((x, j) => (j === i ? { ...x, ...nw } : x)) });
            return (
              <div class="window">
                {DAY_NAMES[lang].map((d, k) => (
                  <label class="day">
                    <input
                      type="checkbox"
                      checked={w.days.includes(k + 1)}
                      onChange={(e) =>
                        upd({ days: e.currentTarget.checked ? [...w.days, k + 1].sort() : w.days.filter((x) => x !== k + 1) })
                      }
                    />
                    {d}
                  </label>
                ))}
                <input name={`window${i}start`} class="hhmm" value={w.start} onInput={(e) => upd({ start: e.currentTarget.value })} />–
                <input name={`window${i}end`} class="hhmm" value={w.end} onInput={(e) => upd({ end: e.currentTarget.value })} />
                <button type="button" onClick={() => onChange({ ...schedule, windows: schedule.windows.filter((_, j) => j !== i) })}>
                  ✕
                </button>
                <FieldError error={error} field={`${prefix}.windows.${i}`} prefix />
              </div>
            );
          })}
          <button
            type="button"
            onClick={() =>
              onChange({ ...schedule, windows: [...schedule.windows, { days: [1, 2, 3, 4, 5, 6, 7], start: '08:00', end: '20:00' }] })
            }
          >
            {t('addWindow')}
          </button>
          <FieldError error={error} field={`${prefix}.windows`} />
          <FieldError error={error} field={prefix} />
        </>
      )}
    </fieldset>
  );
}

export function ZoneEditorPage({ id }: { id: string }) {
  const cam = useApi<Camera>(`/v1/cameras/${encodeURIComponent(id)}`);
  const { live, src } = useLive(id, 3000);
  const [zones, setZones] = useState<Zone[] | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [sel, setSel] = useState(0);
  const [vertex, setVertex] = useState<number | null>(null);
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saved, setSaved] = useState<number | null>(null);
  const [trying, setTrying] = useState(false);
  const drag = useRef<{ zone: number; vertex: number } | null>(null);
  const svg = useRef<SVGSVGElement>(null);
  const editable = can('putZones');

  useEffect(() => {
    if (cam.data && (zones === null || !dirty)) {
      setZones(structuredClone(cam.data.config.zones));
      setVersion(cam.data.version);
    }
  }, [cam.data]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.key === 'Delete' || e.key === 'Backspace') && vertex !== null && !(e.target instanceof HTMLInputElement)) {
        e.preventDefault();
        removeVertex(sel, vertex);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  if (!cam.data || !zones) return cam.error ? <ErrorBox error={cam.error} /> : <Loading />;
  const W = live?.sourceWidth ?? 1280;
  const H = live?.sourceHeight ?? 720;

  const change = (next: Zone[]) => {
    setZones(next);
    setDirty(true);
    setSaved(null);
  };
  const updateZone = (i: number, z: Partial<Zone>) => change(zones.map((x, j) => (j === i ? { ...x, ...z } : x)));
  function removeVertex(zi: number, vi: number) {
    if (!editable) return;
    change(zones!.map((x, j) => (j === zi ? { ...x, polygon: x.polygon.filter((_, k) => k !== vi) } : x)));
    setVertex(null);
  }
  const toNorm = (e: PointerEvent): [number, number] | null => {
    const el = svg.current;
    const m = el?.getScreenCTM();
    if (!el || !m) return null;
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return [round(p.x / W), round(p.y / H)];
  };
  const onDown = (e: PointerEvent) => {
    if (!editable || e.button !== 0) return;
    const target = e.target as SVGElement;
    const vi = target.dataset.vertex;
    const zi = target.dataset.vzone;
    if (vi !== undefined && zi !== undefined) {
      drag.current = { zone: Number(zi), vertex: Number(vi) };
      setSel(Number(zi));
      setVertex(Number(vi));
      (e.currentTarget as Element).setPointerCapture(e.pointerId);
      return;
    }
    if (!zones[sel]) return;
    const p = toNorm(e);
    if (!p) return;
    updateZone(sel, { polygon: [...zones[sel]!.polygon, p] });
    setVertex(zones[sel]!.polygon.length);
  };
  const onMove = (e: PointerEvent) => {
    const d = drag.current;
    if (!d) return;
    const p = toNorm(e);
    if (!p) return;
    setZones((zs) => zs!.map((x, j) => (j === d.zone ? { ...x, polygon: x.polygon.map((q, k) => (k === d.vertex ? p : q)) } : x)));
    setDirty(true);
  };
  const onUp = () => {
    drag.current = null;
  };
  const addZone = () => {
    let n = zones.length + 1;
    while (zones.some((z) => z.id === `zone_${n}`)) n++;
    change([...zones, { id: `zone_${n}`, type: 'no_parking', polygon: [] }]);
    setSel(zones.length);
    setVertex(null);
  };
  const reload = () => {
    setDirty(false);
    setConflict(false);
    setError(null);
    setZones(null);
    cam.reload();
  };
  const save = async () => {
    setError(null);
    setConflict(false);
    try {
      const r = await api<{ version: number; zones: Zone[] }>(`/v1/cameras/${encodeURIComponent(id)}/zones`, {
        method: 'PUT',
        body: { zones },
        headers: { 'If-Match': `"${version}"` },
      });
      setVersion(r.version);
      setZones(r.zones);
      setDirty(false);
      setSaved(r.version);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 412 || err.code === 'VERSION_CONFLICT')) setConflict(true);
      else setError(err as Error);
    }
  };
  const z = zones[sel];
  const strokeR = Math.max(5, W / 120);
  const zoneErr = (i: number) => error instanceof ApiError && error.field?.startsWith(`zones.${i}`);
  const general = error instanceof ApiError && error.field?.startsWith('zones.') ? null : error;

  return (
    <div>
      <div class="toolbar">
        <h1>
          {t('zoneEditor')} · {cam.data.name ?? id}
        </h1>
        <a href={`/cameras/${id}`} onClick={(e) => onLink(e, `/cameras/${id}`)}>
          {t('live')}
        </a>
        <span class="muted">v{version}</span>
      </div>
      {!editable && <p class="notice read-only">{t('readOnly')}</p>}
      {editable && <p class="muted">{t('zoneEditorHint')}</p>}
      {conflict && (
        <div class="error conflict" role="alert">
          {t('versionConflict')}{' '}
          <button type="button" onClick={reload}>
            {t('reloadDiscard')}
          </button>
        </div>
      )}
      <ErrorBox error={general} />
      {saved !== null && (
        <p class="ok" role="status">
          {t('saved')} (v{saved})
        </p>
      )}
      <div class="split">
        <div class="frame-box editor">
          <FrameOverlay
            src={src}
            width={W}
            height={H}
            zones={zones}
            live={null}
            selectedZone={sel}
            svgRef={svg}
            onPointerDown={onDown}
            onPointerMove={onMove}
            onPointerUp={onUp}
          >
            {zones.map((zz, zi) =>
              zz.polygon.map(([x, y], vi) => (
                <circle
                  class={`vertex ${zi === sel && vi === vertex ? 'selected' : ''}`}
                  data-vzone={zi}
                  data-vertex={vi}
                  cx={x * W}
                  cy={y * H}
                  r={zi === sel ? strokeR : strokeR * 0.6}
                  fill={zi === sel && vi === vertex ? '#fff' : zoneColour(zi)}
                  stroke="#000"
                  stroke-width={1}
                  onContextMenu={(e) => {
                    e.preventDefault();
                    removeVertex(zi, vi);
                  }}
                />
              )),
            )}
          </FrameOverlay>
        </div>
        <div class="side">
          <ul class="zone-list">
            {zones.map((zz, i) => (
              <li class={i === sel ? 'selected' : ''} data-zone={zz.id}>
                <button
                  type="button"
                  class={`link ${zoneErr(i) ? 'has-error' : ''}`}
                  onClick={() => (setSel(i), setVertex(null))}
                  style={{ borderLeft: `6px solid ${zoneColour(i)}` }}
                >
                  {zz.name || zz.id} ({zoneTypeName(zz.type)}) · {zz.polygon.length} {t('points')}
                </button>
              </li>
            ))}
          </ul>
          {editable && (
            <button type="button" onClick={addZone}>
              {t('newZone')}
            </button>
          )}
          {z && (
            <fieldset class="zone-form" disabled={!editable}>
              <label>
                {t('zoneId')}
                <input name="zoneId" value={z.id} onInput={(e) => updateZone(sel, { id: e.currentTarget.value })} />
              </label>
              <FieldError error={error} field={`zones.${sel}.id`} />
              <label>
                {t('zoneName')}
                <input
                  name="zoneName"
                  value={z.name ?? ''}
                  onInput={(e) => updateZone(sel, { name: e.currentTarget.value || undefined })}
                />
              </label>
              <FieldError error={error} field={`zones.${sel}.name`} />
              <label>
                {t('zoneType')}
                <select name="zoneType" value={z.type} onChange={(e) => updateZone(sel, { type: e.currentTarget.value as Zone['type'] })}>
                  {ZONE_TYPES.map((ty) => (
                    <option value={ty}>{zoneTypeName(ty)}</option>
                  ))}
                </select>
              </label>
              <FieldError error={error} field={`zones.${sel}.type`} />
              <div class="polygon-field">
                {z.polygon.length} {t('points')}{' '}
                {vertex !== null && (
                  <button type="button" onClick={() => removeVertex(sel, vertex)}>
                    {t('deleteVertex')}
                  </button>
                )}
                <FieldError error={error} field={`zones.${sel}.polygon`} prefix />
              </div>
              <ScheduleEditor
                schedule={z.schedule}
                onChange={(s) => updateZone(sel, { schedule: s })}
                error={error}
                prefix={`zones.${sel}.schedule`}
                disabled={!editable}
              />
              <FieldError error={error} field={`zones.${sel}`} />
              {editable && (
                <button
                  type="button"
                  class="danger"
                  onClick={() => {
                    change(zones.filter((_, j) => j !== sel));
                    setSel(0);
                    setVertex(null);
                  }}
                >
                  {t('deleteZone')}
                </button>
              )}
            </fieldset>
          )}
          {/* Errors on another zone than the selected one stay visible. */}
          {error instanceof ApiError && error.field?.startsWith('zones.') && !error.field.startsWith(`zones.${sel}`) && (
            <div class="field-error" role="alert" data-field={error.field}>
              {error.field}: {error.message}
            </div>
          )}
          {editable && (
            <div class="actions">
              <button type="button" class="primary" onClick={save} disabled={!dirty}>
                {t('save')}
              </button>
              {can('tryCameraConfig') && (
                <button type="button" onClick={() => setTrying(true)}>
                  {t('tryIt')}
                </button>
              )}
              <button type="button" onClick={reload}>
                {t('reload')}
              </button>
            </div>
          )}
        </div>
      </div>
      {trying && <TryPanel cameraId={id} config={{ ...cam.data.config, zones }} onSave={save} onClose={() => setTrying(false)} />}
    </div>
  );
}
