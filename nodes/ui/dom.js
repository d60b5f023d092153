// Building the page from data without ever parsing data as HTML: every
// string becomes a text node or an attribute value (stored inputs, outputs,
// errors, ids and task names are untrusted). No innerHTML anywhere.

/// An element: `h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child)`.
/// `text` sets textContent; `on…` adds a listener; false/null props and
/// children are skipped; strings become text nodes.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function')
      el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

/// Appends children (nodes, strings, nested arrays) to `el`.
export function add(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/// An SVG element (the chart): attributes only, never markup.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {}))
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity))
    if (c !== undefined && c !== null && c !== false)
      el.append(c instanceof Node ? c : String(c));
  return el;
}

export const clear = (el) => el.replaceChildren();

/// Replaces `el`'s content with `nodes`, keeping the keyboard focus: an
/// element focused inside it is focused again in the new content when one
/// there has the same `data-key` (a refresh must not throw the user out of
/// the page's tab order every 2 s).
export function swap(el, ...nodes) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : undefined;
  el.replaceChildren(...nodes);
  if (key !== undefined)
    el.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

/// The statuses of an execution, in their lifecycle's order.
export const STATUSES = ['ready', 'running', 'waiting_for_children',
  'waiting_for_finalize', 'completed', 'failed', 'timed_out',
  'finalize_failed', 'cancelled'];
export const FINISHED = new Set(['completed', 'failed', 'timed_out',
  'finalize_failed', 'cancelled']);
export const ERRORED = new Set(['failed', 'timed_out', 'finalize_failed',
  'cancelled']);

/// A status as a badge: its colour says the family, its text the status.
export function badge(status) {
  return h('span', { class: 'badge s-' + String(status) },
    String(status || '?').replaceAll('_', ' '));
}

/// The hash link of one execution.
export const executionHref = (id) => '#/executions/' + encodeURIComponent(id);

export function executionLink(id, text) {
  return h('a', { href: executionHref(id), class: 'mono' }, text || id);
}

/// A time in microseconds since the epoch, local: "2026-12-07 17:31:40".
export function formatTime(us) {
  if (us === undefined || us === null || us === 0) return '';
  const d = new Date(us / 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} `
    + `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/// A duration in microseconds, in the largest unit that fits: "850 ms",
/// "12.4 s", "3 min", "5 h", "2 d".
export function formatDuration(us) {
  if (us === undefined || us === null || Number.isNaN(us)) return '';
  const ms = us / 1000;
  if (Math.abs(ms) < 1) return `${Math.round(us)} µs`;
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (Math.abs(s) < 60) return `${s.toFixed(1)} s`;
  if (Math.abs(s) < 3600) return `${Math.round(s / 60)} min`;
  if (Math.abs(s) < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/// "3 min ago" for a time in microseconds.
export function ago(us) {
  if (!us) return '';
  return formatDuration(Date.now() * 1000 - us) + ' ago';
}

/// A <time> element: local time, with the relative one as its title.
export function time(us) {
  if (!us) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: new Date(us / 1000).toISOString(),
    title: ago(us) }, formatTime(us));
}

/// A JSON value pretty-printed in a <pre>, as text.
export function jsonBlock(value, label) {
  const text = value === undefined ? '' : JSON.stringify(value, null, 2);
  return h('pre', { class: 'json', 'aria-label': label, tabindex: 0 }, text);
}

/// A message row in a panel (loading, errors, "not available").
export function note(text, kind = 'muted') {
  return h('p', { class: kind }, text);
}

/// The message a failed call shows in its panel.
export function failure(e, what) {
  const param = e && e.status === 400
    && /^Unknown query parameter (.+)$/.exec(e.message || '');
  if (param)
    return note(`${what}: this node does not filter by ${param[1]}.`,
      'unavailable');
  if (e && e.unavailable)
    return note(`${what} is not available on this node.`, 'unavailable');
  if (e && e.status === 401)
    return note(`${what}: sign in to see it.`, 'error');
  return note(`${what}: ${e && e.message ? e.message : String(e)}`, 'error');
}

/// Runs `fn` every `ms` while the tab is visible (and once at once);
/// returns the function that stops it. A hidden tab polls nothing and
/// catches up as soon as it is shown again.
export function poll(fn, ms) {
  let timer = 0;
  let stopped = false;
  let running = false;
  const tick = async () => {
    timer = 0;
    if (stopped || document.hidden || running) return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
      if (!stopped && !document.hidden) timer = setTimeout(tick, ms);
    }
  };
  const visible = () => {
    if (!document.hidden && !timer && !running) tick();
  };
  document.addEventListener('visibilitychange', visible);
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', visible);
  };
}
