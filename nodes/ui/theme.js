// Dark or light: the system's preference (prefers-color-scheme) until the
// toggle is used, then the choice, remembered in localStorage.

const KEY = 'durable.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

export function current() {
  const chosen = localStorage.getItem(KEY);
  if (chosen === 'dark' || chosen === 'light') return chosen;
  return media.matches ? 'dark' : 'light';
}

function apply(button) {
  const theme = current();
  document.documentElement.dataset.theme = theme;
  if (button) {
    const other = theme === 'dark' ? 'light' : 'dark';
    button.textContent = other === 'dark' ? '☾ Dark' : '☀ Light';
    button.setAttribute('aria-label', `Switch to the ${other} theme`);
  }
}

export function setupTheme(button) {
  apply(button);
  media.addEventListener('change', () => apply(button));
  button.addEventListener('click', () => {
    localStorage.setItem(KEY, current() === 'dark' ? 'light' : 'dark');
    apply(button);
  });
}
