// Words of every page come from one message catalogue per language,
// web/static/i18n/<lang>.json; Korean is the default. The server renders
// /chat and /status from the same files, so each sentence has one home.
// The choice lives in the tellonce_lang cookie, which the server reads too.

export const languages = ["ko", "en"];
const listeners = [];

function cookieLang() {
  const m = document.cookie.match(/(?:^|;\s*)tellonce_lang=([a-z]+)/);
  return m && languages.includes(m[1]) ? m[1] : null;
}

async function load(lang) {
  try {
    const res = await fetch(`/static/i18n/${lang}.json`, { credentials: "same-origin" });
    if (res.ok) return await res.json();
  } catch {
    // fall through: the keys themselves show, which beats a blank page
  }
  return {};
}

let lang = cookieLang() || "ko";
let catalogue = await load(lang);
document.documentElement.lang = lang;

export function currentLang() {
  return lang;
}

// t looks a message up and fills {name} placeholders from vars.
export function t(key, vars) {
  let s = catalogue[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? "").toString());
  return s;
}

// has reports whether the catalogue knows key (for codes from the server,
// such as a disposition, that may have no translation).
export function has(key) {
  return key in catalogue;
}

// apply translates the marked elements under root: data-i18n sets the text,
// data-i18n-label the aria-label, data-i18n-placeholder and -title theirs.
export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  if (root === document && document.body.dataset.title) document.title = t(document.body.dataset.title) + " · tellonce";
}

export async function setLang(next) {
  if (!languages.includes(next) || next === lang) return;
  catalogue = await load(next);
  lang = next;
  document.cookie = `tellonce_lang=${next}; path=/; max-age=31536000; SameSite=Lax`;
  document.documentElement.lang = next;
  apply();
  for (const fn of listeners) fn(next);
}

// onLangChange lets a page redraw what it built from data.
export function onLangChange(fn) {
  listeners.push(fn);
}

// bindLangSelect wires a <select> of languages.
export function bindLangSelect(select) {
  if (!select) return;
  select.value = lang;
  select.addEventListener("change", () => setLang(select.value));
}
