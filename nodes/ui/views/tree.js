// An execution's tree: children in order, the finalize, the steps of a
// sequence and the iterations of a loop, each with its status at a glance.
// Built for trees of thousands of nodes: a node's children are read when
// it is opened (GET …/tree?max_depth=1, whose children carry
// `"truncated": true` when theirs were left out), and long child lists are
// drawn 200 at a time with a "show more" button.

import { get, executionPath } from '../api.js';
import { h, badge, executionHref, failure, note } from '../dom.js';

export const CHUNK = 200;
/// The API's cap on one tree read (docs/http-api.md).
const MAX_NODES = 10000;

const branches = new Set(['parent', 'sequence', 'loop']);

/// Reads `id` and its children (one level).
export async function readLevel(id, signal) {
  const t = await get(executionPath(id, '/tree'),
    { max_depth: 1, max_nodes: MAX_NODES }, { signal });
  return t.root;
}

function placeLabel(node, parentKind) {
  const p = node.parent;
  if (!p) return '';
  if (p.is_finalize) return 'finalize';
  const i = Number(p.index ?? 0);
  if (parentKind === 'sequence') return `step ${i + 1}`;
  if (parentKind === 'loop') return `iteration ${i + 1}`;
  return `#${i + 1}`;
}

/// The tree under `rootId`, as an element and a reload() that reads it
/// again keeping the open nodes open. `expanded` (ids) survives reloads.
export function treeView(rootId, { expanded = new Set(), signal } = {}) {
  const element = h('div', { class: 'tree', id: 'tree' }, note('Loading…'));
  let generation = 0;

  function summary(node) {
    const n = (node.children || []).length;
    if (!n) return node.truncated ? '' : branches.has(node.kind)
      ? 'no children' : '';
    const done = node.children.filter((c) => ['completed', 'failed',
      'timed_out', 'finalize_failed', 'cancelled'].includes(c.status)).length;
    return `${n} children, ${done} finished`;
  }

  function nodeItem(node, parentKind, depth, gen) {
    const id = node.execution_id;
    const canOpen = branches.has(node.kind)
      && (node.truncated || (node.children || []).length > 0);
    const group = h('ul', { role: 'group', class: 'tree-children' });
    group.hidden = true;
    const info = h('span', { class: 'tree-info muted' });
    const toggle = canOpen ? h('button', { type: 'button', class: 'toggle',
      'aria-label': `Open ${node.task_id} ${id}`, 'aria-expanded': 'false' },
    '▸') : h('span', { class: 'toggle-space', 'aria-hidden': 'true' });
    const item = h('li', { role: 'treeitem', class: 'tree-node',
      dataset: { id, status: node.status, depth: String(depth) },
      'aria-expanded': canOpen ? 'false' : null },
    h('div', { class: 'tree-row' }, toggle, badge(node.status),
      h('span', { class: 'place muted' }, placeLabel(node, parentKind)),
      h('span', { class: 'task mono' }, String(node.task_id ?? '')),
      h('a', { href: executionHref(id), class: 'mono small' }, String(id)),
      node.error && node.error.message ? h('span', { class: 'tree-error',
        title: String(node.error.message) }, String(node.error.message))
        : null,
      info), group);
    let loaded = node.truncated ? null : node;
    let open = false;

    async function expand() {
      open = true;
      expanded.add(id);
      toggle.textContent = '▾';
      toggle.setAttribute('aria-expanded', 'true');
      item.setAttribute('aria-expanded', 'true');
      group.hidden = false;
      if (group.childElementCount) return;
      if (!loaded) {
        group.replaceChildren(h('li', { class: 'muted' }, 'Loading…'));
        try {
          loaded = await readLevel(id, signal);
        } catch (e) {
          if (e.name === 'AbortError') return;
          group.replaceChildren(h('li', null, failure(e, 'The children')));
          return;
        }
        if (gen !== generation) return;
      }
      info.textContent = summary(loaded);
      fillChildren(group, loaded, depth + 1, gen);
    }

    function collapse() {
      open = false;
      expanded.delete(id);
      toggle.textContent = '▸';
      toggle.setAttribute('aria-expanded', 'false');
      item.setAttribute('aria-expanded', 'false');
      group.hidden = true;
    }

    if (canOpen) {
      toggle.addEventListener('click', () => (open ? collapse() : expand()));
      if (expanded.has(id)) expand();
    }
    if (!node.truncated) info.textContent = summary(node);
    return item;
  }

  /// Draws `node`'s children into `group`, CHUNK at a time.
  function fillChildren(group, node, depth, gen) {
    const children = node.children || [];
    group.replaceChildren();
    if (!children.length) {
      group.append(h('li', { class: 'muted leaf-note' }, 'No children.'));
      return;
    }
    let shown = 0;
    const more = h('li', { class: 'more' });
    const showMore = () => {
      const end = Math.min(children.length, shown + CHUNK);
      const first = shown;
      const items = [];
      for (; shown < end; ++shown)
        items.push(nodeItem(children[shown], node.kind, depth, gen));
      more.before(...items);
      more.replaceChildren();
      if (shown < children.length)
        more.append(h('button', { type: 'button', class: 'show-more',
          onclick: () => {
            showMore();
            group.children[first + CHUNK]?.querySelector('a, button')?.focus();
          } }, `Show ${Math.min(CHUNK, children.length - shown)} more `
          + `(${children.length - shown} not shown)`));
      else if (node.truncated)
        more.append(note(`Only the first ${children.length} children are `
          + 'shown: the tree is larger than one read returns.', 'warn'));
      else more.remove();
    };
    group.append(more);
    showMore();
  }

  // Arrow keys walk the rows drawn (as in a file tree): up and down move,
  // right opens a branch, left closes it or goes to its parent.
  element.addEventListener('keydown', (ev) => {
    const row = ev.target instanceof Element && ev.target.closest('.tree-row');
    if (!row || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const toggle = row.querySelector('button.toggle');
    const focusRow = (r) => r && (r.querySelector('button.toggle')
      || r.querySelector('a'))?.focus();
    const visible = () => [...element.querySelectorAll('.tree-row')]
      .filter((r) => r.offsetParent !== null);
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      const rows = visible();
      const i = rows.indexOf(row) + (ev.key === 'ArrowDown' ? 1 : -1);
      if (i >= 0 && i < rows.length) focusRow(rows[i]);
    } else if (ev.key === 'ArrowRight') {
      if (toggle && toggle.getAttribute('aria-expanded') === 'false')
        toggle.click();
    } else if (ev.key === 'ArrowLeft') {
      if (toggle && toggle.getAttribute('aria-expanded') === 'true')
        toggle.click();
      else focusRow(row.parentElement.parentElement
        .closest('li.tree-node')?.querySelector(':scope > .tree-row'));
    } else return;
    ev.preventDefault();
  });

  async function reload() {
    const gen = ++generation;
    let root;
    try {
      root = await readLevel(rootId, signal);
    } catch (e) {
      if (e.name !== 'AbortError')
        element.replaceChildren(failure(e, 'The tree'));
      return;
    }
    if (gen !== generation) return;
    expanded.add(rootId);
    const list = h('ul', { role: 'tree', class: 'tree-root',
      'aria-label': 'Execution tree' }, nodeItem(root, '', 0, gen));
    element.replaceChildren(list);
  }

  return { element, reload, expanded };
}
