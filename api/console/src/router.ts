// A few client routes on the History API: the server answers every console path with index.html.
import { signal } from '@preact/signals';

export const path = signal(location.pathname);
export const search = signal(location.search);

export function navigate(to: string, replace = false): void {
  const u = new URL(to, location.origin);
  if (replace) history.replaceState(null, '', u.pathname + u.search);
  else history.pushState(null, '', u.pathname + u.search);
  path.value = u.pathname;
  search.value = u.search;
}

addEventListener('popstate', () => {
  path.value = location.pathname;
  search.value = location.search;
});

/** `/cameras/:id/zones` against `/cameras/demo/zones` → { id: 'demo' }, or null. */
export function match(pattern: string, p: string): Record<string, string> | null {
  const a = pattern.split('/').filter(Boolean);
  const b = p.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i]!;
    if (seg.startsWith(':')) out[seg.slice(1)] = decodeURIComponent(b[i]!);
    else if (seg !== b[i]) return null;
  }
  return out;
}

/** Link that navigates without a reload. */
export function onLink(e: MouseEvent, to: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  navigate(to);
}
