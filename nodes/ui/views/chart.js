// The throughput chart, drawn as inline SVG by our own code: executions
// finished per step, stacked by outcome (completed, then the failures,
// then cancelled), with a time axis and a count axis. Built with DOM calls
// only; colours come from the stylesheet (classes), so both themes apply.

import { svg, h } from '../dom.js';

const SERIES = [
  ['completed', 'Completed'],
  ['failed', 'Failed'],
  ['timed_out', 'Timed out'],
  ['finalize_failed', 'Finalize failed'],
  ['cancelled', 'Cancelled'],
];

function niceMax(n) {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

function clock(us, withDate) {
  const d = new Date(us / 1000);
  const p = (n) => String(n).padStart(2, '0');
  const t = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return withDate ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${t}` : t;
}

/// The chart of a series ({from_us, to_us, step_s, points}), as a <figure>.
export function throughputChart(series, title) {
  const W = 1160, H = 170, L = 44, R = 8, T = 10, B = 24;
  const points = series.points || [];
  const step = (series.step_s || 60) * 1e6;
  const from = series.from_us;
  const to = series.to_us;
  const slots = Math.max(1, Math.round((to - from) / step));
  const totals = points.map((p) => SERIES.reduce((a, [k]) => a + (p[k] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const x = (us) => L + ((us - from) / (to - from)) * (W - L - R);
  const y = (n) => H - B - (n / max) * (H - T - B);
  const barW = Math.max(1, (W - L - R) / slots - 1);

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart',
    role: 'img', 'aria-label': title });
  // Grid and count axis.
  for (let i = 0; i <= 4; ++i) {
    const v = (max / 4) * i;
    chart.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v),
      class: 'grid' }));
    chart.append(svg('text', { x: L - 6, y: y(v) + 4, class: 'axis',
      'text-anchor': 'end' }, String(Math.round(v))));
  }
  // Time axis: five labels.
  const long = to - from > 6 * 3600e6;
  for (let i = 0; i <= 4; ++i) {
    const at = from + ((to - from) / 4) * i;
    chart.append(svg('text', { x: x(at), y: H - 8, class: 'axis',
      'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
    clock(at, long)));
  }
  // Stacked bars.
  points.forEach((p, i) => {
    let base = 0;
    const group = svg('g', { class: 'bar' });
    for (const [key, label] of SERIES) {
      const n = p[key] || 0;
      if (!n) continue;
      group.append(svg('rect', { x: x(p.at_us), y: y(base + n), width: barW,
        height: Math.max(0.5, y(base) - y(base + n)), class: 'c-' + key },
      svg('title', null, `${clock(p.at_us, long)} ${label}: ${n}`)));
      base += n;
    }
    if (totals[i]) chart.append(group);
  });
  chart.append(svg('line', { x1: L, x2: W - R, y1: y(0), y2: y(0),
    class: 'baseline' }));

  const legend = h('ul', { class: 'legend' }, SERIES.map(([key, label]) => {
    const sum = points.reduce((a, p) => a + (p[key] || 0), 0);
    return h('li', null, h('span', { class: 'swatch c-' + key }),
      `${label} ${sum}`);
  }));
  return h('figure', { class: 'chart-figure' }, chart, legend);
}
