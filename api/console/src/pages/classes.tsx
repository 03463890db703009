// Class tuning: the 17 classes on a camera, active or not and why, each threshold with its meaning,
// default and current value; edit (PUT), reset (DELETE), or try the edit first.
import { useState } from 'preact/hooks';
import { api, type Camera, type ClassInfo, type ClassStatus } from '../api';
import { className, lang, t, THRESHOLD_MEANING } from '../i18n';
import { onLink } from '../router';
import { can } from '../session';
import { ErrorBox, FieldError, Loading, useApi } from '../ui';
import { TryPanel } from './try';

interface CameraClasses {
  version: number;
  classes: ClassStatus[];
  overrides: Record<string, Record<string, unknown>>;
}

function parseValue(raw: string, like: unknown): unknown {
  if (typeof like === 'boolean') return raw === 'true';
  const n = Number(raw);
  return raw.trim() === '' ? undefined : Number.isFinite(n) ? n : raw;
}

/**
 * Why a class is (in)active, in the console's language. The API's reason is English prose
 * (pipeline/rules/class-status.ts); Chinese is built from the status's fields, quoting the labels
 * the reason names, and the English text stays in the tooltip.
 */
function classReason(cls: ClassStatus): string {
  if (lang.value !== 'zh') return cls.reason;
  if (cls.active) return cls.zoneIds.length ? `在区域 ${cls.zoneIds.join('、')} 中生效` : '已启用，但本摄像头没有该类别适用类型的区域';
  if (cls.reason.startsWith('disabled')) return '已在摄像头配置中停用';
  const labels = [...cls.reason.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  return labels.length ? `需要已配置模型提供标签：${labels.join(' / ')}` : cls.reason;
}

function ClassRow({
  cameraId,
  cls,
  defaults,
  override,
  editable,
  onChanged,
  onTry,
}: {
  cameraId: string;
  cls: ClassStatus;
  defaults: Record<string, unknown>;
  override: Record<string, unknown> | undefined;
  editable: boolean;
  onChanged: () => void;
  onTry: (classId: string, o: Record<string, unknown>) => void;
}) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [error, setError] = useState<Error | null>(null);
  const current = cls.thresholds as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(defaults), ...Object.keys(current)])].filter((k) => k !== 'schedule');
  const edited = (): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...(override ?? {}) };
    for (const [k, v] of Object.entries(draft)) {
      const val = parseValue(v, defaults[k] ?? current[k]);
      if (val === undefined) delete out[k];
      else out[k] = val;
    }
    return out;
  };
  const save = async () => {
    setError(null);
    try {
      await api(`/v1/cameras/${encodeURIComponent(cameraId)}/classes/${cls.id}`, { method: 'PUT', body: edited() });
      setDraft({});
      onChanged();
    } catch (err) {
      setError(err as Error);
    }
  };
  const reset = async () => {
    setError(null);
    try {
      await api(`/v1/cameras/${encodeURIComponent(cameraId)}/classes/${cls.id}`, { method: 'DELETE' });
      setDraft({});
      onChanged();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <tr class={`class-row ${cls.active ? 'active' : 'inactive'}`} data-class={cls.id}>
        <td>
          <button type="button" class="link" onClick={() => setOpen(!open)}>
            {open ? '▾' : '▸'} {className(cls)}
          </button>
          <div class="muted">{cls.id}</div>
        </td>
        <td>
          <span class={`badge ${cls.active ? 'badge-confirmed' : 'badge-refused'}`}>{cls.active ? t('active') : t('inactive')}</span>
        </td>
        <td class="muted" title={cls.reason}>
          {classReason(cls)}
        </td>
        <td class="overrides">
          {override
            ? Object.entries(override)
                .filter(([k]) => k !== 'schedule')
                .map(([k, v]) => `${k} = ${String(v)}`)
                .join(' · ')
            : ''}
        </td>
      </tr>
      {open && (
        <tr class="class-detail">
          <td colSpan={4}>
            <table class="thresholds">
              <thead>
                <tr>
                  <th>{t('threshold')}</th>
                  <th>{t('meaning')}</th>
                  <th>{t('default')}</th>
                  <th>{t('current')}</th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => (
                  <tr>
                    <td>
                      <code>{k}</code>
                    </td>
                    <td>{THRESHOLD_MEANING[k]?.[lang.value === 'zh' ? 0 : 1] ?? ''}</td>
                    <td class="num">{String(defaults[k] ?? '—')}</td>
                    <td>
                      <input
                        name={`${cls.id}.${k}`}
                        class={override && k in override ? 'overridden' : ''}
                        disabled={!editable}
                        value={draft[k] ?? String(current[k] ?? '')}
                        onInput={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
                      />
                      <FieldError error={error} field={k} />
                      <FieldError error={error} field={`classes.${cls.id}.${k}`} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <ErrorBox error={error} />
            {editable && (
              <div class="actions">
                <button type="button" class="primary" onClick={save} disabled={Object.keys(draft).length === 0}>
                  {t('save')}
                </button>
                {can('tryCameraConfig') && (
                  <button type="button" onClick={() => onTry(cls.id, edited())} disabled={Object.keys(draft).length === 0}>
                    {t('tryIt')}
                  </button>
                )}
                <button type="button" onClick={reset} disabled={!override}>
                  {t('resetDefaults')}
                </button>
              </div>
            )}
          </td>
        </tr>
      )}
    </>
  );
}

export function ClassesPage({ id }: { id: string }) {
  const data = useApi<CameraClasses>(`/v1/cameras/${encodeURIComponent(id)}/classes`);
  const cat = useApi<{ classes: ClassInfo[] }>('/v1/classes');
  const cam = useApi<Camera>(`/v1/cameras/${encodeURIComponent(id)}`);
  const [trying, setTrying] = useState<{ classId: string; override: Record<string, unknown> } | null>(null);
  if (!data.data || !cat.data) return data.error || cat.error ? <ErrorBox error={data.error ?? cat.error} /> : <Loading />;
  const editable = can('putClassOverride');
  const defaultsOf = (cid: string) => cat.data!.classes.find((c) => c.id === cid)?.defaults ?? {};
  const tryConfig =
    trying && cam.data ? { ...cam.data.config, classes: { ...cam.data.config.classes, [trying.classId]: trying.override } } : null;
  const saveTried = async () => {
    if (!trying) return;
    await api(`/v1/cameras/${encodeURIComponent(id)}/classes/${trying.classId}`, { method: 'PUT', body: trying.override });
    data.reload();
    cam.reload();
  };
  return (
    <div>
      <div class="toolbar">
        <h1>
          {t('classes')} · {id}
        </h1>
        <a href={`/cameras/${id}`} onClick={(e) => onLink(e, `/cameras/${id}`)}>
          {t('live')}
        </a>
        <span class="muted">v{data.data.version}</span>
      </div>
      {!editable && <p class="notice read-only">{t('readOnly')}</p>}
      <table class="classes">
        <thead>
          <tr>
            <th>{t('class')}</th>
            <th>{t('state')}</th>
            <th>{t('reason')}</th>
            <th>{t('overrides')}</th>
          </tr>
        </thead>
        <tbody>
          {data.data.classes.map((c) => (
            <ClassRow
              key={c.id}
              cameraId={id}
              cls={c}
              defaults={defaultsOf(c.id)}
              override={data.data!.overrides[c.id]}
              editable={editable}
              onChanged={() => (data.reload(), cam.reload())}
              onTry={(classId, override) => setTrying({ classId, override })}
            />
          ))}
        </tbody>
      </table>
      {tryConfig && <TryPanel cameraId={id} config={tryConfig} onSave={saveTried} onClose={() => setTrying(null)} />}
    </div>
  );
}
