// The citizen's callback offer on /chat. When the wait is long (the queued
// frame says callback_offered), the citizen may leave a number instead of
// waiting on the page: keeping their place in line, or at a time they pick
// from the queue's free slots. POST /v1/contacts/{id}/callback registers
// it; the callback frame confirms it (again on every reconnect while it
// waits for the call, a kept place as well as a booked time).
import { t, currentLang } from "/static/i18n.js";
import { api } from "/static/api.js";
import { $, $$, h, announce, showFieldErrors, clearFieldErrors, phoneNumber } from "/static/ui.js";

// A number to call: 3–32 digits, a + in front allowed; spaces, dashes and
// brackets people type are dropped first.
export const cleanNumber = (s) => (s || "").replace(/[\s\-().]/g, "");
export const validNumber = (n) => /^\+?[0-9]+$/.test(n) && n.length >= 3 && n.length <= 32;

const locale = () => (currentLang() === "ko" ? "ko-KR" : "en-GB");

function hm(iso) {
  return new Date(iso).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", hour12: false });
}

// when says a time the citizen reads: "14:30", or with the day when it is
// not today.
export function when(iso) {
  const d = new Date(iso);
  if (d.toDateString() === new Date().toDateString()) return hm(iso);
  return d.toLocaleString(locale(), { weekday: "short", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}

let ctx = null; // {chat(), save(), redraw()} from chat.js

const enc = encodeURIComponent;
const tokenQuery = (chat) => `token=${enc(chat.token)}`;

// initCallback wires the offer; chat() returns the open chat, save()
// stores it and redraw() draws the page again.
export function initCallback(hooks) {
  ctx = hooks;
  $("#cb-open").addEventListener("click", () => openForm(true));
  $("#cb-cancel").addEventListener("click", () => openForm(false));
  for (const r of $$("input[name=cb-mode]")) r.addEventListener("change", modeChanged);
  $("#cb-form").addEventListener("submit", submit);
}

// drawCallback shows the offer while the citizen waits and one is offered,
// and what was agreed once a callback is registered.
export function drawCallback(chat) {
  const cb = chat.callback;
  // Not at position 0: an agent is being offered the chat right now.
  const waiting = chat.where.kind === "queued" && chat.where.position > 0;
  $("#cb-offer").hidden = !(waiting && chat.callbackOffered && !cb);
  $("#cb-done").hidden = !cb || chat.where.kind === "ended";
  if (cb) {
    // Once an agent has taken the call, the promise is being kept: say
    // so, as the line at the top does.
    const text = chat.where.kind === "talking" ? t("callback.agreed_calling")
      : cb.mode === "slot" && cb.at ? t("callback.agreed_slot", { time: when(cb.at) })
      : cb.mode === "retry" && cb.at ? t("callback.agreed_retry", { time: when(cb.at) }) : t("callback.agreed_keep");
    $("#cb-done-text").textContent = text;
    $("#cb-done-number").textContent = cb.number ? t("callback.to_number", { number: phoneNumber(cb.number) }) : "";
    $("#cb-done-number").hidden = !cb.number;
  }
}

// drawClosed puts a note where the message box was: a callback is a phone
// call, so the agent (whose desk has no message box for it) will not read
// anything written here. A chat with no callback keeps its box.
export function drawClosed(chat) {
  const cb = chat.callback, ended = chat.where.kind === "ended";
  $("#say-form").hidden = ended || !!cb;
  $("#say-closed").hidden = ended || !cb;
  if (cb) $("#say-closed").textContent = cb.number ? t("callback.no_messages", { number: phoneNumber(cb.number) }) : t("callback.no_messages_plain");
}

function openForm(open) {
  $("#cb-form").hidden = !open;
  $("#cb-open").hidden = open;
  $("#cb-open").setAttribute("aria-expanded", open ? "true" : "false");
  if (open) {
    clearFieldErrors($("#cb-form"));
    $("#cb-number").focus();
  } else {
    $("#cb-open").focus();
  }
}

function modeChanged() {
  const slot = $("input[name=cb-mode]:checked").value === "slot";
  $("#cb-slots").hidden = !slot;
  if (slot) loadSlots();
}

// The contact's queue now (a transfer may have moved it), else the one
// the chat started in.
async function currentQueue(chat) {
  try {
    const c = await api("GET", `/v1/contacts/${enc(chat.contact_id)}?${tokenQuery(chat)}`);
    if (c && c.queue) return c.queue;
  } catch {
    // fall back to where the chat began
  }
  return chat.queue;
}

// loadSlots lists the queue's free slots as radio buttons; full ones are
// left out.
async function loadSlots() {
  const chat = ctx.chat();
  const box = $("#cb-slots");
  box.replaceChildren(h("p", { class: "hint", text: t("callback.loading") }));
  let items = [];
  try {
    const queue = await currentQueue(chat);
    ({ items } = await api("GET", `/v1/queues/${enc(queue)}/callback-slots?${tokenQuery(chat)}`));
  } catch {
    box.replaceChildren(h("p", { class: "error", text: t("callback.slots_failed") }));
    return;
  }
  const free = (items || []).filter((s) => s.free > 0);
  if (!free.length) {
    box.replaceChildren(h("p", { class: "hint", text: t("callback.no_slots") }));
    return;
  }
  box.replaceChildren(...free.map((s, i) => h("label", { class: "choice slot" },
    h("input", { type: "radio", name: "cb-slot", value: s.start, id: "cb-slot-" + i }),
    " ", h("span", { text: t("callback.slot", { from: when(s.start), to: hm(s.end) }) }))));
}

async function submit(ev) {
  ev.preventDefault();
  const form = $("#cb-form");
  clearFieldErrors(form);
  const chat = ctx.chat();
  const number = cleanNumber($("#cb-number").value);
  if (!validNumber(number)) return showFieldErrors(form, { field: "number", message: t("callback.bad_number") });
  const body = { number };
  if ($("input[name=cb-mode]:checked").value === "slot") {
    const slot = $("input[name=cb-slot]:checked");
    if (!slot) return showFieldErrors(form, { field: "callback_at", message: t("callback.need_slot") });
    body.callback_at = slot.value;
  }
  const button = $("#cb-submit");
  button.disabled = true;
  try {
    const res = await api("POST", `/v1/contacts/${enc(chat.contact_id)}/callback?${tokenQuery(chat)}`, body);
    const slot = res.status === "scheduled";
    chat.callback = { mode: slot ? "slot" : "keep_place", at: res.callback_at || body.callback_at || "", number };
    if (!slot && res.position !== undefined) chat.where = { kind: "queued", position: res.position, wait: res.estimated_wait_s, light: res.light };
    ctx.save();
    ctx.redraw();
    announce($("#cb-done-text").textContent + " " + t("callback.can_close"));
    $("#cb-done").setAttribute("tabindex", "-1");
    $("#cb-done").focus();
  } catch (e) {
    if (e.status === 409) {
      showFieldErrors(form, { field: body.callback_at ? "callback_at" : "", message: t(body.callback_at ? "callback.slot_taken" : "callback.conflict") });
      if (body.callback_at) loadSlots();
    } else if (e.status === 400 && e.field === "number") {
      showFieldErrors(form, { field: "number", message: t("callback.bad_number") });
    } else if (e.status === 400 && e.field === "callback_at") {
      showFieldErrors(form, { field: "callback_at", message: t("callback.slot_gone") });
      loadSlots();
    } else {
      showFieldErrors(form, { field: "", message: e.code === "network" ? t("error.network") : t("error.generic") });
    }
  } finally {
    button.disabled = false;
  }
}

// onCallbackFrame follows callback {mode, at}: the server's word on what
// is registered (also after a reconnect or from another tab).
export function onCallbackFrame(chat, f) {
  const prev = chat.callback || {};
  chat.callback = { ...prev, mode: f.mode, at: f.at || (f.mode === "keep_place" ? "" : prev.at || "") };
  // The call went unanswered: nobody is calling any more, and the next
  // try comes at f.at.
  if (f.mode === "retry" && chat.where.kind !== "ended") chat.where = { kind: "queued", position: 0 };
}

// onQueuedFrame: a retry whose time has come waits in line again, like a
// kept place, for the next call.
export function onQueuedFrame(chat) {
  if (chat.callback && chat.callback.mode === "retry") chat.callback = { ...chat.callback, mode: "keep_place", at: "" };
}
