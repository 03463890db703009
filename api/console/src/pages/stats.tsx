// Hot spots: class × hour-of-day heat map (/v1/stats/matrix), top zones (/v1/stats/hotspots) and
// week over week (/v1/stats/trend). ECharts is loaded with this page only.
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import type { HotSpot, MatrixRow, TrendRow } from '../../../../infra/stores/case-store';
import { qs } from '../api';
import { t } from '../i18n';
import { ErrorBox, Loading, useApi, useClassName } from '../ui';

const Chart = lazy(() => import('../charts').then((m) => ({ default: m.Chart })));

export function StatsPage() {
  const [days, setDays] = useState(30);
  const from = Date.now() - days * 86_400_000;
  const range = qs({ from: Math.floor(from / 60_000) * 60_000 });
  const matrix = useApi<{ items: MatrixRow[] }>(`/v1/stats/matrix${range}`);
  const spots = useApi<{ items: HotSpot[] }>(`/v1/stats/hotspots${range}`);
  const trend = useApi<{ rows: TrendRow[] }>('/v1/stats/trend');
  const name = useClassName();
  const classIds = [...new Set(matrix.data?.items.map((r) => r.classId) ?? [])];
  const cells = new Map<string, number>();
  for (const r of matrix.data?.items ?? []) cells.set(`${r.classId}|${r.hour}`, (cells.get(`${r.classId}|${r.hour}`) ?? 0) + r.count);
  const data = [...cells].map(([k, v]) => {
    const [c, h] = k.split('|');
    return [Number(h), classIds.indexOf(c!), v];
  });
  const max = Math.max(1, ...data.map((d) => d[2]!));
  const heat = {
    tooltip: { position: 'top' },
    grid: { left: 160, right: 20, top: 10, bottom: 90 },
    xAxis: { type: 'category', data: Array.from({ length: 24 }, (_, h) => `${h}`), splitArea: { show: true } },
    yAxis: { type: 'category', data: classIds.map(name), splitArea: { show: true } },
    visualMap: { min: 0, max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0 },
    series: [{ type: 'heatmap', data, label: { show: true } }],
  };
  const bar = {
    tooltip: {},
    grid: { left: 160, right: 20, top: 10, bottom: 30 },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: (spots.data?.items ?? []).map((s) => `${s.cameraId} / ${s.zoneId ?? '—'}`).reverse() },
    series: [{ type: 'bar', data: (spots.data?.items ?? []).map((s) => s.count).reverse() }],
  };
  const rows = trend.data?.rows ?? [];
  // Grouped bars, not lines: a single class/zone row (or a first week) must still draw something.
  const oneWeek = rows.length > 0 && rows.every((r) => r.lastWeek === 0);
  const trendChart = {
    color: ['#94a3b8', '#2563eb'],
    tooltip: { trigger: 'axis' },
    legend: { data: [t('lastWeek'), t('thisWeek')], top: 0 },
    grid: { left: 50, right: 20, top: 40, bottom: 80 },
    xAxis: {
      type: 'category',
      data: rows.map((r) => `${name(r.classId)}\n${r.cameraId}/${r.zoneId ?? '—'}`),
      axisLabel: { interval: 0, rotate: rows.length > 4 ? 20 : 0 },
    },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { name: t('lastWeek'), type: 'bar', barMaxWidth: 48, data: rows.map((r) => r.lastWeek) },
      { name: t('thisWeek'), type: 'bar', barMaxWidth: 48, data: rows.map((r) => r.thisWeek), label: { show: true, position: 'top' } },
    ],
  };
  return (
    <div>
      <div class="toolbar">
        <h1>{t('hotspots')}</h1>
        <select value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
          {[1, 7, 30, 90].map((d) => (
            <option value={String(d)}>{d} d</option>
          ))}
        </select>
      </div>
      <ErrorBox error={matrix.error ?? spots.error ?? trend.error} />
      <Suspense fallback={<Loading />}>
        <section class="panel">
          <h2>{t('heatmap')}</h2>
          {matrix.data && <Chart option={heat} height={Math.max(190, 100 + classIds.length * 36)} testId="heatmap" />}
        </section>
        <section class="panel">
          <h2>{t('byZone')}</h2>
          {spots.data && <Chart option={bar} height={Math.max(160, 40 + (spots.data.items.length || 1) * 30)} testId="hotspots" />}
          <table>
            <tbody>
              {spots.data?.items.map((s) => (
                <tr>
                  <td>
                    {s.cameraId} / {s.zoneId ?? '—'}
                  </td>
                  <td class="num">{s.count}</td>
                  <td>
                    {Object.entries(s.byClass)
                      .map(([c, n]) => `${name(c)} ${n}`)
                      .join(' · ')}
                  </td>
                  <td class="muted">
                    {t('peak')} {s.peakHour}:00
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="panel">
          <h2>{t('trend')}</h2>
          {oneWeek && <p class="muted trend-note">{t('trendOneWeek')}</p>}
          {trend.data && rows.length === 0 && <p class="muted">{t('none')}</p>}
          {rows.length > 0 && <Chart option={trendChart} height={300} testId="trend" />}
        </section>
      </Suspense>
    </div>
  );
}
