// The live frame with zones, detections and tracks drawn over it as SVG in source-pixel
// coordinates (the live record's boxes are in source pixels; zones are normalised 0..1).
import type { ComponentChildren, Ref } from 'preact';
import type { LiveRecord, Zone } from './api';
import { zoneTypeName } from './i18n';

const ZONE_COLOURS = ['#f59e0b', '#10b981', '#3b82f6', '#ef4444', '#a855f7', '#14b8a6', '#eab308'];

export function zoneColour(i: number): string {
  return ZONE_COLOURS[i % ZONE_COLOURS.length]!;
}

export interface OverlayProps {
  src: string | null;
  width: number;
  height: number;
  zones: Pick<Zone, 'id' | 'name' | 'type' | 'polygon'>[];
  live?: LiveRecord | null;
  selectedZone?: number;
  svgRef?: Ref<SVGSVGElement>;
  onPointerDown?: (e: PointerEvent) => void;
  onPointerMove?: (e: PointerEvent) => void;
  onPointerUp?: (e: PointerEvent) => void;
  children?: ComponentChildren;
}

export function FrameOverlay(p: OverlayProps) {
  const { width: W, height: H } = p;
  const stroke = Math.max(1.5, W / 400);
  const font = Math.max(10, W / 55);
  return (
    <svg
      ref={p.svgRef}
      class="frame"
      viewBox={`0 0 ${W} ${H}`}
      data-width={W}
      data-height={H}
      onPointerDown={p.onPointerDown}
      onPointerMove={p.onPointerMove}
      onPointerUp={p.onPointerUp}
      onContextMenu={(e) => e.preventDefault()}
    >
      {p.src ? (
        <image href={p.src} x={0} y={0} width={W} height={H} preserveAspectRatio="none" />
      ) : (
        <rect width={W} height={H} fill="#222" />
      )}
      {p.zones.map((z, i) => {
        const pts = z.polygon.map(([x, y]) => `${x * W},${y * H}`).join(' ');
        const c = zoneColour(i);
        const first = z.polygon[0];
        return (
          <g class="zone" data-zone={z.id}>
            <polygon
              points={pts}
              fill={c}
              fill-opacity={p.selectedZone === i ? 0.3 : 0.15}
              stroke={c}
              stroke-width={p.selectedZone === i ? stroke * 2 : stroke}
            />
            {first && (
              <text
                x={first[0] * W + 4}
                y={first[1] * H + font}
                fill={c}
                font-size={font}
                paint-order="stroke"
                stroke="#000"
                stroke-width={font / 6}
              >
                {`${z.name || z.id} (${zoneTypeName(z.type)})`}
              </text>
            )}
          </g>
        );
      })}
      {p.live?.detections.map((d) => {
        const [x1, y1, x2, y2] = d.box;
        return (
          <rect
            class="detection"
            x={x1}
            y={y1}
            width={x2 - x1}
            height={y2 - y1}
            fill="none"
            stroke="#38bdf8"
            stroke-dasharray={`${stroke * 3} ${stroke * 2}`}
            stroke-width={stroke}
          />
        );
      })}
      {p.live?.tracks.map((tr) => {
        const [x1, y1, x2, y2] = tr.box;
        const still = tr.stationarySec !== undefined && tr.stationarySec > 0;
        return (
          <g class="track" data-track={tr.id}>
            <rect
              x={x1}
              y={y1}
              width={x2 - x1}
              height={y2 - y1}
              fill="none"
              stroke={still ? '#ef4444' : '#22c55e'}
              stroke-width={stroke * 1.5}
            />
            <text
              x={x1 + 2}
              y={Math.max(font, y1 - 4)}
              fill="#fff"
              font-size={font}
              paint-order="stroke"
              stroke="#000"
              stroke-width={font / 6}
            >
              #{tr.id} {tr.label} {tr.score.toFixed(2)}
              {still ? ` · ${tr.stationarySec!.toFixed(0)}s` : ''}
            </text>
          </g>
        );
      })}
      {p.children}
    </svg>
  );
}
