// Small DOM helpers shared by the consoles. Text always goes in through
// textContent (never innerHTML), so what citizens and agents type cannot
// become markup.
import { t, currentLang } from "/static/i18n.js";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// h builds an element: h("p", {class: "x", onclick: fn}, "text", child…).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k in el && !k.includes("-")) el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// fill clones a <template> and returns its first element.
export function fill(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

// part finds the element marked data-part=name inside root.
export const part = (root, name) => root.querySelector(`[data-part="${name}"]`);

// lightBadge shows a traffic light with its word (원활 / 지연 / 혼잡).
// A closed queue's badge says when it opens (words, never colour alone)
// when the answer gave them: closed is { label, label_en } of the answer.
export function lightBadge(light, closed) {
  const known = ["green", "yellow", "red", "closed"].includes(light);
  let text = t(known ? "light." + light : "light.none");
  if (light === "closed" && closed) text = (document.documentElement.lang === "en" ? closed.label_en : closed.label) || text;
  return h("span", { class: "light light-" + (known ? light : "none"), text });
}

// duration formats seconds as m:ss or h:mm:ss.
export function duration(sec) {
  sec = Math.max(0, Math.floor(sec || 0));
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

// waitWords says an estimated wait the way a citizen reads it.
export function waitWords(sec) {
  if (sec === null || sec === undefined) return t("wait.unknown");
  if (sec < 60) return t("wait.under_minute");
  if (sec >= 3600) return t("wait.over_hour");
  return t("wait.minutes", { n: Math.round(sec / 60) });
}

// clock shows a time of day in the reader's zone and language.
export function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString(currentLang() === "ko" ? "ko-KR" : "en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(currentLang() === "ko" ? "ko-KR" : "en-GB", { dateStyle: "short", timeStyle: "short", hour12: false });
}

// Korean numbers by their first digits: mobile 01X, Seoul 02, the other
// area codes (and 070, 080), and the 8-digit representative numbers. A
// "*" stands for a digit the server masked (a reader without pii).
const NUMBER_SHAPES = [
  /^(01\d)([\d*]{3,4})([\d*]{4})$/,
  /^(02)([\d*]{3,4})([\d*]{4})$/,
  /^(0(?:3[1-3]|4[1-4]|5[1-5]|6[0-4]|70|80))([\d*]{3,4})([\d*]{4})$/,
  /^(1[568]\d\d)([\d*]{4})$/,
];

// phoneNumber shows a callback number the way people read it:
// 010-1234-5678, 02-123-4567, 031-123-4567, 1588-1234, masked ones alike
// (010-****-5678); +82 as the same number dialled at home. Anything else
// (a foreign number, a short code) shows as given. Input boxes keep the
// raw number.
export function phoneNumber(n) {
  const given = String(n ?? "");
  let digits = given.replace(/[\s\-().]/g, "");
  if (digits.startsWith("+82")) digits = "0" + digits.slice(3).replace(/^0/, "");
  if (!/^[\d*]+$/.test(digits)) return given;
  for (const shape of NUMBER_SHAPES) {
    const m = digits.match(shape);
    if (m) return m.slice(1).join("-");
  }
  return given;
}

// announce reads a message out to screen readers.
export function announce(msg) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  // A fresh text node in a new task makes screen readers speak it again.
  setTimeout(() => (live.textContent = msg), 30);
}

// showFieldErrors puts an API validation error beside its field: the
// control whose data-field is the error's field (or its first part, for
// "sla.target_pct" or "channels[1]"), else the form's general message.
export function showFieldErrors(form, err) {
  clearFieldErrors(form);
  const field = err.field || "";
  const candidates = [field, field.replace(/\[\d+\].*$/, ""), field.split(".")[0]];
  let box = null, control = null;
  for (const name of candidates) {
    if (!name) continue;
    box = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    control = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (box) break;
  }
  const msg = err.message || t("error.generic");
  if (!box) {
    box = form.querySelector("[data-error-for='']");
    if (box) box.textContent = field ? `${field}: ${msg}` : msg;
  } else {
    box.textContent = msg;
  }
  if (box) box.hidden = false;
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  } else if (box) {
    box.setAttribute("tabindex", "-1");
    box.focus();
  }
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll("[data-error-for]")) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}
