// Bulk cancel and retry by the list's filter: a dry run first, whose count
// and first ids the confirmation shows; only then the real call.

import { post } from '../api.js';
import { h, executionLink, note } from '../dom.js';
import { showDialog } from './dialog.js';

/// The query parameters the bulk routes take from a list filter.
const BULK_KEYS = ['status', 'task_id', 'parent_id', 'root_id',
  'created_from_us', 'created_before_us', 'error', 'idempotency_key',
  'sleeping_id'];

export function bulkQuery(filter) {
  const q = {};
  for (const k of BULK_KEYS) if (filter[k]) q[k] = filter[k];
  return q;
}

function idList(ids, more) {
  const shown = ids.slice(0, 10);
  return h('ul', { class: 'ids' }, shown.map((id) => h('li', null,
    executionLink(id))), ids.length > shown.length || more
    ? h('li', { class: 'muted' }, '…') : null);
}

/// Runs a bulk `action` ('cancel' or 'retry') on `filter`, asking first.
/// Resolves to the real call's result, or null when nothing was done.
export async function bulkAction(action, filter) {
  const path = `/v1/executions/${action}`;
  const query = bulkQuery(filter);
  const verb = action === 'cancel' ? 'Cancel' : 'Retry';
  let dry;
  try {
    dry = await post(path, { ...query, dry_run: 'true' }, {});
  } catch (e) {
    await showDialog(`${verb} matching executions`,
      [note(`The node refused this filter: ${e.message}`, 'error')],
      [{ label: 'Close', value: null }]);
    return null;
  }
  if (!dry.matched) {
    await showDialog(`${verb} matching executions`,
      [note('No execution matches this filter: nothing to do.')],
      [{ label: 'Close', value: null }]);
    return null;
  }
  const what = action === 'cancel'
    ? 'will be cancelled, each with its descendants.'
    : 'will be retried: each failed top-level one is enqueued again '
      + '(children and sleeping executions are skipped).';
  const count = h('p', { id: 'bulk-count' }, h('strong', null,
    String(dry.matched)), dry.more ? '+ executions (more than the limit) '
    : dry.matched === 1 ? ' execution ' : ' executions ', what);
  const ok = await showDialog(`${verb} ${dry.matched}${dry.more ? '+' : ''} `
    + `execution${dry.matched === 1 ? '' : 's'}?`,
  [count, idList(dry.execution_ids || [], dry.more)],
  [{ label: 'Keep them', value: false, id: 'bulk-no' },
    { label: `${verb} ${dry.matched}`, value: true, id: 'bulk-yes',
      class: action === 'cancel' ? 'danger' : 'primary' }]);
  if (!ok) return null;
  let done;
  try {
    done = await post(path, query, {});
  } catch (e) {
    await showDialog(`${verb} failed`, [note(e.message, 'error')],
      [{ label: 'Close', value: null }]);
    return null;
  }
  const past = action === 'cancel' ? 'cancelled' : 'retried';
  await showDialog(`${verb}: done`, [h('p', { id: 'bulk-result' },
    `${done.acted} ${past}, ${done.skipped} skipped`
    + (done.more ? ' (more matched than the limit: run it again)' : '') + '.'),
  action === 'retry' && done.execution_ids.length
    ? [note('The new executions:'), idList(done.execution_ids, false)] : null],
  [{ label: 'Close', value: null, id: 'bulk-close' }]);
  return done;
}
