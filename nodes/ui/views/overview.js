// The overview: executions per status, throughput and failures over the
// last hour or day (views/chart.js), the ready backlog per task and the
// nodes of the cluster; refreshed every 2 s while the tab is visible.
// Each panel loads on its own: one the node does not serve (an older
// node) says so and the others go on.

import { get } from '../api.js';
import { h, swap, poll, failure, note, formatDuration, formatTime,
  STATUSES, FINISHED } from '../dom.js';
import { listHash } from '../router.js';
import { throughputChart } from './chart.js';

const RANGES = {
  hour: { label: 'Last hour', span: 3600, step: 60 },
  day: { label: 'Last 24 hours', span: 86400, step: 900 },
};

function panel(title, id, ...extra) {
  // Not a live region: it refreshes every 2 s, a screen reader would
  // never stop reading it.
  const body = h('div', { class: 'panel-body', id: id + '-body' },
    note('Loading…'));
  const section = h('section', { class: 'panel', id, 'aria-labelledby':
    id + '-title' }, h('div', { class: 'panel-head' },
    h('h2', { id: id + '-title' }, title), ...extra), body);
  return { section, body };
}

function countsView(stats) {
  const by = stats.by_status || {};
  const cards = [h('a', { class: 'count total', href: '#/executions',
    dataset: { key: 'total' } },
    h('span', { class: 'n', id: 'count-total' }, String(stats.total ?? 0)),
    h('span', { class: 'label' }, 'total'))];
  for (const s of STATUSES) {
    const n = by[s] || 0;
    cards.push(h('a', { class: 'count s-' + s + (n ? '' : ' zero'),
      href: listHash({ status: s }), id: 'count-' + s, dataset: { key: s },
      title: `List the ${s.replaceAll('_', ' ')} executions` },
    h('span', { class: 'n' }, String(n)),
    h('span', { class: 'label' }, s.replaceAll('_', ' '))));
  }
  return h('div', { class: 'counts' }, cards);
}

/// The node's clock when it answered (`now_us`), else this browser's:
/// ages are the cluster's, whatever the browser's clock says.
const nowOf = (answer) => answer.now_us || Date.now() * 1000;

function tasksView(answer) {
  const tasks = answer.tasks || [];
  if (!tasks.length) return note('No task is registered or stored.');
  const now = nowOf(answer);
  const sorted = [...tasks].sort((a, b) => (b.ready || 0) - (a.ready || 0)
    || String(a.task_id).localeCompare(String(b.task_id)));
  return h('table', { class: 'table', id: 'tasks-table' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Task'),
      h('th', { scope: 'col', class: 'num' }, 'Ready'),
      h('th', { scope: 'col', class: 'num' }, 'Oldest ready'),
      h('th', { scope: 'col' }, 'Registered'))),
    h('tbody', null, sorted.map((t) => h('tr', null,
      h('td', null, h('a', { href: listHash({ task_id: t.task_id }),
        class: 'mono', dataset: { key: 'task:' + t.task_id } },
      String(t.task_id))),
      h('td', { class: 'num' }, t.ready ? h('a', {
        href: listHash({ task_id: t.task_id, status: 'ready',
          order: 'oldest' }), dataset: { key: 'ready:' + t.task_id } },
      String(t.ready)) : '0'),
      h('td', { class: 'num' }, t.oldest_ready_at_us
        ? formatDuration(now - t.oldest_ready_at_us) : '—'),
      h('td', null, t.registered ? 'yes'
        : h('span', { class: 'warn' }, 'no (stored only)'))))));
}

function nodesView(answer) {
  const nodes = answer.nodes || [];
  const now = nowOf(answer);
  if (!nodes.length) return note('No node has registered.');
  return h('table', { class: 'table nowrap', id: 'nodes-table' },
    h('thead', null, h('tr', null,
      ['Node', 'State', 'Incarnation', 'Version', 'Started', 'Heartbeat',
        'Running', 'Free slots', 'Maintenance'].map((c) =>
        h('th', { scope: 'col' }, c)))),
    h('tbody', null, nodes.map((n) => h('tr', { class: 'node-' + n.state },
      h('td', { class: 'node-name' }, String(n.name ?? ''),
        n.incarnation === answer.this_incarnation
          ? h('span', { class: 'muted' }, ' (this node)') : null),
      h('td', null, h('span', { class: 'badge n-' + n.state },
        String(n.state ?? ''))),
      h('td', { class: 'mono small' }, String(n.incarnation ?? '')),
      h('td', null, String(n.version ?? '')),
      h('td', { title: formatTime(n.started_at_us) }, n.started_at_us
        ? formatDuration(now - n.started_at_us) + ' ago' : '—'),
      h('td', null, n.heartbeat_at_us
        ? formatDuration(now - n.heartbeat_at_us) + ' ago' : '—'),
      h('td', { class: 'num' }, String(n.running ?? 0)),
      h('td', { class: 'num' }, `${n.free_slots ?? 0} / ${n.slots ?? 0}`),
      h('td', null, n.leader ? h('span', { class: 'leader' }, 'leader') : '')))));
}

function finishedCounts(stats) {
  const by = stats.by_status || {};
  let done = 0, bad = 0;
  for (const s of FINISHED) {
    done += by[s] || 0;
    if (s !== 'completed' && s !== 'cancelled') bad += by[s] || 0;
  }
  return { done, bad };
}

export function renderOverview(main) {
  let range = 'hour';
  let tick = 0;
  const counts = panel('Executions', 'counts');
  const rangeButtons = Object.entries(RANGES).map(([key, r]) =>
    h('button', { type: 'button', class: 'seg', 'aria-pressed':
      String(key === range), onclick: () => {
      range = key;
      for (const b of rangeButtons)
        b.setAttribute('aria-pressed', String(b.dataset.range === range));
      loadSeries();
    }, dataset: { range: key } }, r.label));
  const chart = panel('Finished executions', 'throughput',
    h('div', { class: 'segmented', role: 'group',
      'aria-label': 'Time range' }, rangeButtons));
  const tasks = panel('Ready backlog by task', 'tasks');
  const nodes = panel('Nodes', 'nodes');
  const summary = h('p', { class: 'muted', id: 'overview-summary' });
  main.replaceChildren(h('h1', null, 'Overview'), summary, counts.section,
    chart.section, nodes.section, tasks.section);

  const controller = new AbortController();
  const opts = { signal: controller.signal };
  const guard = (body, what, fn) => fn().catch((e) => {
    if (e.name === 'AbortError') return;
    body.replaceChildren(failure(e, what));
  });

  async function loadSeries() {
    const r = RANGES[range];
    const stepUs = r.step * 1e6;
    const to = Math.ceil(Date.now() * 1000 / stepUs) * stepUs;
    const from = to - r.span * 1e6;
    await guard(chart.body, 'The throughput series', async () => {
      const s = await get('/v1/stats/series', { from_us: from, to_us: to,
        step_s: r.step }, opts);
      chart.body.replaceChildren(throughputChart(s,
        `Executions finished per ${r.step / 60} min, ${r.label.toLowerCase()}`));
    });
  }

  const stopPoll = poll(async () => {
    const jobs = [
      guard(counts.body, 'The counts', async () => {
        const s = await get('/v1/stats', null, opts);
        swap(counts.body, countsView(s));
        const f = finishedCounts(s);
        summary.textContent = `${s.total ?? 0} executions stored, ${f.done} `
          + `finished, ${f.bad} of them failed or timed out.`;
      }),
      guard(tasks.body, 'The task backlog', async () => {
        const t = await get('/v1/tasks', null, opts);
        swap(tasks.body, tasksView(t));
      }),
      guard(nodes.body, 'The node list', async () => {
        const n = await get('/v1/nodes', null, opts);
        swap(nodes.body, nodesView(n));
      }),
    ];
    // The series moves by whole steps: every 5th refresh is enough.
    if (tick++ % 5 === 0) jobs.push(loadSeries());
    await Promise.all(jobs);
  }, 2000);

  return () => {
    stopPoll();
    controller.abort();
  };
}
