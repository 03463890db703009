// Case queue: filters, the list, one case with snapshot, clip, the reason record in plain words and
// the actions its state allows (a rejection needs a reason and may suppress the region for the
// class); rejection counts per camera/class/zone below.
import { useEffect, useState } from 'preact/hooks';
import { api, qs, type Camera, type CaseRecord, type ClassInfo, type EvidenceItem, type RejectionRow } from '../api';
import { allowedUpdates, CASE_STATES } from '../case-states';
import { caseStateName, className, fmtTime, lang, t, zoneTypeName, type TKey } from '../i18n';
import { navigate, onLink, search } from '../router';
import { can } from '../session';
import { ErrorBox, Loading, useApi, useClassName } from '../ui';

interface Filters {
  classId: string;
  cameraId: string;
  zoneId: string;
  state: string;
  from: string;
  to: string;
}

function filtersFrom(s: string): Filters {
  const u = new URLSearchParams(s);
  return {
    classId: u.get('classId') ?? '',
    cameraId: u.get('cameraId') ?? '',
    zoneId: u.get('zoneId') ?? '',
    state: u.get('state') ?? '',
    from: u.get('from') ?? '',
    to: u.get('to') ?? '',
  };
}

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** The reason record as sentences an operator reads. */
export function ReasonText({ c }: { c: CaseRecord }) {
  const r = c.reason;
  const zh = lang.value === 'zh';
  const th = r.thresholds ?? {};
  const dwellNeed = th.minDwellSec;
  const lines: string[] = zh
    ? [
        `${c.nameZh}：目标 ${r.subject}${r.trackIds.length ? `（跟踪 #${r.trackIds.join(', #')}）` : ''} 在区域「${c.zoneName ?? r.zoneId ?? '—'}」${r.zoneType ? `（${zoneTypeName(r.zoneType)}）` : ''}内停留 ${r.dwellSec.toFixed(1)} 秒${dwellNeed !== undefined ? `，阈值 ${dwellNeed} 秒` : ''}。`,
        `最近 ${r.window} 帧中命中 ${r.hits} 帧${th.minHits !== undefined ? `（需要 ${th.minHits}）` : ''}；置信度中位数 ${r.medianScore.toFixed(2)}${th.minMedianScore !== undefined ? `（需要 ${th.minMedianScore}）` : ''}。`,
        `首次出现 ${fmtTime(c.firstSeenAt)}，最近出现 ${fmtTime(c.lastSeenAt)}${c.reappearances ? `，再次出现 ${c.reappearances} 次` : ''}。`,
      ]
    : [
        `${c.nameEn}: subject ${r.subject}${r.trackIds.length ? ` (track #${r.trackIds.join(', #')})` : ''} stayed ${r.dwellSec.toFixed(1)} s in zone "${c.zoneName ?? r.zoneId ?? '—'}"${r.zoneType ? ` (${zoneTypeName(r.zoneType)})` : ''}${dwellNeed !== undefined ? `; the threshold is ${dwellNeed} s` : ''}.`,
        `Seen in ${r.hits} of the last ${r.window} analysed frames${th.minHits !== undefined ? ` (needs ${th.minHits})` : ''}; median score ${r.medianScore.toFixed(2)}${th.minMedianScore !== undefined ? ` (needs ${th.minMedianScore})` : ''}.`,
        `First seen ${fmtTime(c.firstSeenAt)}, last seen ${fmtTime(c.lastSeenAt)}${c.reappearances ? `, reappeared ${c.reappearances} time(s)` : ''}.`,
      ];
  if (r.note) lines.push(r.note);
  const rest = Object.entries(th).filter(([k]) => !['minDwellSec', 'minHits', 'minMedianScore'].includes(k));
  return (
    <div class="reason-text">
      {lines.map((l) => (
        <p>{l}</p>
      ))}
      {rest.length > 0 && (
        <p class="muted">
          {t('thresholds')}: {rest.map(([k, v]) => `${k} ${v}`).join(' · ')}
        </p>
      )}
    </div>
  );
}

function CaseDetail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const c = useApi<CaseRecord>(`/v1/cases/${id}`);
  const ev = useApi<{ items: EvidenceItem[]; evidenceStatus: string }>(
    `/v1/cases/${id}/evidence`,
    c.data?.evidenceStatus === 'pending' ? 3000 : undefined,
  );
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const [suppress, setSuppress] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [suppressed, setSuppressed] = useState<number | null>(null);
  useEffect(() => {
    setSuppressed(null);
    setRejecting(false);
    setReason('');
    setSuppress(false);
    setError(null);
  }, [id]);
  if (!c.data) return c.error ? <ErrorBox error={c.error} /> : <Loading />;
  const k = c.data;
  const clip = ev.data?.items.filter((e) => e.file.kind === 'clip' && e.url).pop();
  const snap =
    ev.data?.items.find((e) => e.file.kind === 'snapshot' && e.url && /confirm/i.test(e.file.name)) ??
    ev.data?.items.find((e) => e.file.kind === 'snapshot' && e.url);
  const act = async (state: string, body: Record<string, unknown> = {}) => {
    setError(null);
    try {
      const r = await api<{ suppression?: { configVersion: number } }>(`/v1/cases/${id}/status`, {
        method: 'POST',
        body: { state, ...body },
      });
      setSuppressed(r.suppression ? r.suppression.configVersion : null);
      setRejecting(false);
      c.reload();
      onChanged();
    } catch (err) {
      setError(err as Error);
    }
  };
  const updates = can('updateCaseStatus') ? allowedUpdates(k.state) : [];
  return (
    <div class="case-detail" data-case={k.id} data-state={k.state}>
      <h2>
        {className(k)} · <span class={`badge state-${k.state}`}>{caseStateName(k.state)}</span>
      </h2>
      <p class="muted">
        {k.id} · {k.cameraName ?? k.cameraId} · {t('zone')} {k.zoneName ?? k.zoneId ?? '—'} · {fmtTime(k.createdAt)} · {k.responsibleParty}
      </p>
      <div class="media">
        {snap ? <img class="snapshot" src={snap.url!} alt={t('snapshot')} /> : null}
        {clip ? (
          <video class="clip" controls preload="auto" src={clip.url!} />
        ) : (
          <p class="muted">
            {t('noClip')} ({ev.data?.evidenceStatus ?? k.evidenceStatus})
          </p>
        )}
      </div>
      <h3>{t('why')}</h3>
      <ReasonText c={k} />
      <h3>{t('actions')}</h3>
      <div class="actions">
        {updates
          .filter((s) => s !== 'rejected')
          .map((s) => (
            <button type="button" data-action={s} onClick={() => act(s)}>
              {t(s as TKey)}
            </button>
          ))}
        {updates.includes('rejected') && !rejecting && (
          <button type="button" class="danger" data-action="rejected" onClick={() => setRejecting(true)}>
            {t('rejected')}
          </button>
        )}
      </div>
      {rejecting && (
        <form
          class="reject-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act('rejected', { reason: reason.trim(), ...(suppress ? { suppress: true } : {}) });
          }}
        >
          <label>
            {t('rejectReason')}
            <input name="rejectReason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} required />
          </label>
          {can('putCameraConfig') && (
            <label class="check">
              <input type="checkbox" name="suppress" checked={suppress} onChange={(e) => setSuppress(e.currentTarget.checked)} />{' '}
              {t('suppress')}
            </label>
          )}
          <button type="submit" class="danger" disabled={!reason.trim()}>
            {t('confirmReject')}
          </button>
          <button type="button" onClick={() => setRejecting(false)}>
            {t('cancel')}
          </button>
        </form>
      )}
      {suppressed !== null && (
        <p class="ok suppressed" role="status">
          {t('suppressedNote')} (v{suppressed})
        </p>
      )}
      <ErrorBox error={error} />
      <h3>{t('history')}</h3>
      <ul class="history">
        {k.history.map((h) => (
          <li>
            {fmtTime(h.at)} · {h.from ? caseStateName(h.from) : '∅'} → {caseStateName(h.to)}
            {h.actor && ` · ${h.actor}`}
            {h.reason && ` · ${h.reason}`}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Rejections({ cameraId, version }: { cameraId: string; version: number }) {
  const { data, error, reload } = useApi<{ items: RejectionRow[] }>(`/v1/stats/rejections${qs({ cameraId })}`, 5000);
  // A status change in the queue shows in the counts at once, not at the next poll.
  useEffect(() => reload(), [version]);
  const classLabel = useClassName();
  return (
    <section class="panel rejections">
      <h2>{t('rejections')}</h2>
      <ErrorBox error={error} />
      <table>
        <thead>
          <tr>
            <th>{t('camera')}</th>
            <th>{t('class')}</th>
            <th>{t('zone')}</th>
            <th>{t('total')}</th>
            <th>{t('rejectedCount')}</th>
            <th>{t('rejectionRate')}</th>
            <th>{t('reasons')}</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((r) => (
            <tr data-row={`${r.cameraId}/${r.classId}/${r.zoneId ?? '-'}`} data-rejected={r.rejected} data-cases={r.cases}>
              <td>{r.cameraId}</td>
              <td title={r.classId}>{classLabel(r.classId)}</td>
              <td>{r.zoneId ?? '—'}</td>
              <td class="num">{r.cases}</td>
              <td class="num">{r.rejected}</td>
              <td class="num">{(r.rejectionRate * 100).toFixed(0)}%</td>
              <td>{r.reasons.map((x) => `${x.reason} ×${x.count}`).join('; ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function CasesPage({ caseId }: { caseId: string | null }) {
  const [f, setF] = useState<Filters>(filtersFrom(search.value));
  const applied = filtersFrom(search.value);
  const [changes, setChanges] = useState(0);
  const listPath = `/v1/cases${qs({ classId: applied.classId, cameraId: applied.cameraId, zoneId: applied.zoneId, state: applied.state, from: toIso(applied.from), to: toIso(applied.to), limit: 100 })}`;
  const list = useApi<{ items: CaseRecord[]; nextCursor: string | null }>(listPath, 5000);
  const classes = useApi<{ classes: ClassInfo[] }>('/v1/classes');
  const cams = useApi<{ items: Camera[] }>('/v1/cameras');
  const zones = cams.data?.items.find((c) => c.id === f.cameraId)?.config.zones ?? cams.data?.items.flatMap((c) => c.config.zones) ?? [];
  const set = (k: keyof Filters) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const apply = (e: Event) => {
    e.preventDefault();
    navigate(`/cases${qs({ ...f })}`);
  };
  const keep = search.value;
  return (
    <div>
      <h1>{t('caseQueue')}</h1>
      <form class="filters" onSubmit={apply}>
        <select name="classId" value={f.classId} onChange={set('classId')}>
          <option value="">
            {t('class')}: {t('all')}
          </option>
          {classes.data?.classes.map((c) => (
            <option value={c.id}>{className(c)}</option>
          ))}
        </select>
        <select name="cameraId" value={f.cameraId} onChange={set('cameraId')}>
          <option value="">
            {t('camera')}: {t('all')}
          </option>
          {cams.data?.items.map((c) => (
            <option value={c.id}>{c.name ?? c.id}</option>
          ))}
        </select>
        <select name="zoneId" value={f.zoneId} onChange={set('zoneId')}>
          <option value="">
            {t('zone')}: {t('all')}
          </option>
          {[...new Set(zones.map((z) => z.id))].map((z) => (
            <option value={z}>{z}</option>
          ))}
        </select>
        <select name="state" value={f.state} onChange={set('state')}>
          <option value="">
            {t('state')}: {t('all')}
          </option>
          {CASE_STATES.map((s) => (
            <option value={s}>{caseStateName(s)}</option>
          ))}
        </select>
        <label>
          {t('from')} <input type="datetime-local" name="from" value={f.from} onInput={set('from')} />
        </label>
        <label>
          {t('to')} <input type="datetime-local" name="to" value={f.to} onInput={set('to')} />
        </label>
        <button type="submit">{t('apply')}</button>
      </form>
      <ErrorBox error={list.error} />
      <div class="split">
        <div class="case-list">
          {list.data && list.data.items.length === 0 && <p class="muted">{t('noCases')}</p>}
          <table>
            <tbody>
              {list.data?.items.map((c) => (
                <tr class={c.id === caseId ? 'selected' : ''} data-case={c.id} data-state={c.state}>
                  <td>
                    <a href={`/cases/${c.id}${keep}`} onClick={(e) => onLink(e, `/cases/${c.id}${keep}`)}>
                      {className(c)}
                    </a>
                    <div class="muted">
                      {c.cameraName ?? c.cameraId} · {c.zoneName ?? c.zoneId ?? '—'}
                    </div>
                  </td>
                  <td>
                    <span class={`badge state-${c.state}`}>{caseStateName(c.state)}</span>
                  </td>
                  <td class="muted">{fmtTime(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="side wide">{caseId && <CaseDetail id={caseId} onChanged={() => (list.reload(), setChanges((x) => x + 1))} />}</div>
      </div>
      {can('rejectionStats') && <Rejections cameraId={applied.cameraId} version={changes} />}
    </div>
  );
}
