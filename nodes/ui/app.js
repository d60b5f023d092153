// The console's shell: the router, the header (navigation, search, theme,
// sign-out), the login form on a 401, and the keyboard shortcuts. Each page
// is a view (views/*.js) that renders into <main> and returns a function
// that stops it (its polling, its pending calls).

import { api, onUnauthorized, setToken, token } from './api.js';
import { h, note } from './dom.js';
import { parse } from './router.js';
import { setupTheme } from './theme.js';
import { renderOverview } from './views/overview.js';
import { renderList } from './views/list.js';
import { renderDetail } from './views/detail.js';
import { renderSearch } from './views/search.js';

const main = document.getElementById('main');
const logout = document.getElementById('logout');
let stop = () => {};
let signingIn = false;

const views = {
  overview: renderOverview,
  list: renderList,
  detail: renderDetail,
  search: renderSearch,
  missing: (el) => {
    el.replaceChildren(h('h1', null, 'Not found'),
      note('No such page. '), h('a', { href: '#/' }, 'Back to the overview'));
    return () => {};
  },
};

function markNavigation(page) {
  for (const [id, pages] of [['nav-overview', ['overview']],
    ['nav-executions', ['list', 'detail', 'search']]]) {
    const link = document.getElementById(id);
    if (pages.includes(page)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function render() {
  stop();
  stop = () => {};
  if (signingIn) return;
  const route = parse(location.hash);
  markNavigation(route.page);
  logout.hidden = !token();
  const previous = document.activeElement;
  stop = views[route.page](main, route) || (() => {});
  // Keep focus where the user is (the search box) or move it to the page.
  if (!previous || previous === document.body || !document.contains(previous))
    main.focus({ preventScroll: true });
}

/// The login form: shown instead of the page when the API answers 401.
/// The token goes to sessionStorage (this tab only, gone when it closes)
/// and into the Authorization header of each call; never into a URL.
function showLogin(refused) {
  if (signingIn) return;
  signingIn = true;
  stop();
  stop = () => {};
  const input = h('input', { id: 'token', type: 'password', required: true,
    autocomplete: 'off', spellcheck: 'false' });
  const message = h('p', { class: 'error', role: 'alert', id: 'login-error' },
    refused ? 'The token was refused.' : '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'login panel', method: 'post', action: '#',
    'aria-labelledby': 'login-title' },
  h('h1', { id: 'login-title' }, 'Sign in'),
  h('p', { class: 'muted' }, 'This node requires the bearer token of its ' +
    'HTTP API (durable-node --http-token). It is kept for this tab only.'),
  h('label', { for: 'token' }, 'Token'), input, message, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    message.textContent = '';
    setToken(input.value);
    try {
      await api('GET', '/v1/stats', { query: { status: 'running' } });
      signingIn = false;
      render();
    } catch (e) {
      setToken('');
      message.textContent = e.status === 401 ? 'The token was refused.'
        : 'The node did not accept the sign-in: ' + e.message;
      button.disabled = false;
      input.select();
    }
  });
  main.replaceChildren(form);
  logout.hidden = true;
  input.focus();
}

onUnauthorized(() => {
  const hadToken = !!token();
  setToken('');
  showLogin(hadToken);
});

logout.addEventListener('click', () => {
  setToken('');
  showLogin(false);
});

document.getElementById('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = document.getElementById('search-box').value.trim();
  if (!q) return;
  location.hash = '#/search?q=' + encodeURIComponent(q);
});

document.addEventListener('keydown', (ev) => {
  if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement
      || t instanceof HTMLSelectElement || (t && t.isContentEditable)) return;
  ev.preventDefault();
  const box = document.getElementById('search-box');
  box.focus();
  box.select();
});

setupTheme(document.getElementById('theme'));
window.addEventListener('hashchange', render);
render();
