// The desk's two dialogs: transfer (to any agency's queue or agent, cold
// or warm, always with a note) and end (disposition and summary, or a
// second-line callback filed in a queue of any agency that takes them).
import { t } from "/static/i18n.js";
import { $, h, showFieldErrors, clearFieldErrors, announce } from "/static/ui.js";
import { directory, agencyName } from "/static/names.js";
import { desk, send } from "/static/desk.js";
import { setChatStatus } from "/static/chats.js";
import { interpreting } from "/static/interpreters.js";

const MAX_RESULTS = 40;
let target = null; // the chat being transferred or ended

function norm(s) {
  return (s || "").toLocaleLowerCase().normalize("NFC");
}

// candidates lists what matches the search: queues that take the chat's
// channel, then agents; every word of the search must match.
function candidates(query, channel) {
  const words = norm(query).split(/\s+/).filter(Boolean);
  const hit = (hay) => words.every((w) => hay.includes(w));
  const out = [];
  for (const q of directory.queues) {
    if (q.id === target.contact.queue || !(q.channels || []).includes(channel)) continue;
    if (hit(norm(`${q.agency_name} ${q.name} ${q.id}`))) out.push({ value: "queue:" + q.id, kind: t("transfer.kind_queue"), label: `${q.agency_name} · ${q.name}` });
  }
  for (const a of directory.agents) {
    if (hit(norm(`${a.name} ${a.username} ${agencyName(a.agency)}`))) out.push({ value: "agent:" + a.username, kind: t("transfer.kind_agent"), label: `${a.name} · ${agencyName(a.agency)}` });
  }
  return out;
}

function drawResults() {
  const list = $("#transfer-list");
  const chosen = list.querySelector("input:checked")?.value;
  const found = candidates($("#transfer-search").value, target.contact.channel);
  list.replaceChildren();
  if (!found.length) {
    list.append(h("p", { class: "muted", text: t("transfer.none") }));
    return;
  }
  found.slice(0, MAX_RESULTS).forEach((c, i) => {
    const id = "tt-" + i;
    list.append(h("div", { class: "result" },
      h("input", { type: "radio", name: "to", id, value: c.value, checked: c.value === chosen }),
      h("label", { htmlFor: id }, h("span", { class: "tag", text: c.kind }), " ", c.label)));
  });
  if (found.length > MAX_RESULTS) list.append(h("p", { class: "hint", text: t("transfer.more", { n: found.length - MAX_RESULTS }) }));
}

export function openTransfer(contactID) {
  const chat = desk.chats.get(contactID);
  if (!chat || chat.status !== "live") return;
  target = chat;
  const form = $("#transfer-form");
  clearFieldErrors(form);
  $("#transfer-search").value = "";
  $("#transfer-note").value = "";
  form.querySelector("input[name=mode][value=cold]").checked = true;
  drawResults();
  $("#transfer-dialog").showModal();
  $("#transfer-search").focus();
}

$("#transfer-search").addEventListener("input", drawResults);
// Down arrow from the search box goes to the first result.
$("#transfer-search").addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowDown") {
    const first = $("#transfer-list input");
    if (first) {
      ev.preventDefault();
      first.checked = true;
      first.focus();
    }
  }
});
$("#transfer-cancel").addEventListener("click", () => $("#transfer-dialog").close());
$("#transfer-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  clearFieldErrors(form);
  const to = form.querySelector("input[name=to]:checked")?.value;
  const note = $("#transfer-note").value.trim();
  const mode = form.querySelector("input[name=mode]:checked").value;
  if (!to) return showFieldErrors(form, { field: "to", message: t("transfer.need_target") });
  if (!note) return showFieldErrors(form, { field: "note", message: t("transfer.need_note") });
  const [kind, id] = to.split(/:(.*)/s);
  const button = $("#transfer-submit");
  button.disabled = true;
  try {
    await send({ type: "transfer", contact_id: target.contact.contact_id, to: { [kind]: id }, mode, note });
    $("#transfer-dialog").close();
    if (mode === "warm") setChatStatus(target.contact.contact_id, "warm");
    announce(t("transfer.sent"));
  } catch (e) {
    showFieldErrors(form, { field: e.field === "to.queue" || e.field === "to.agent" ? "to" : e.field, message: e.code === "network" ? t("conn.not_sent") : e.message });
  } finally {
    button.disabled = false;
  }
});

// Words set by key, so that a language switch keeps them.
function setWords(el, key) {
  el.dataset.i18n = key;
  el.textContent = t(key);
}

export function openEnd(contactID) {
  const chat = desk.chats.get(contactID);
  if (!chat || chat.status === "ended") return;
  target = chat;
  const form = $("#end-form");
  clearFieldErrors(form);
  // An interpreter only leaves their own leg: no result to choose, and
  // no callback to file.
  const own = interpreting(chat);
  setWords($("#end-title"), own ? "end.title_interpreter" : "end.title");
  setWords($("#end-submit"), own ? "interp.leave" : "end.submit");
  $("#end-disposition-field").hidden = own;
  $("#end-callback-box").hidden = own;
  $("#end-summary").value = "";
  $("#end-disposition").value = "resolved";
  $("#end-callback").checked = false;
  $("#callback-search").value = "";
  // A number shown masked (no pii) cannot be typed back: an empty box
  // files the callback to the contact's own number, which the server has.
  const number = chat.contact.callback_number || "";
  $("#callback-number").value = number.includes("*") ? "" : number;
  $("#callback-note").value = "";
  showCallback();
  $("#end-dialog").showModal();
  (own ? $("#end-summary") : $("#end-disposition")).focus();
}

// Second-line callback: the queues of every agency that take callbacks.
function callbackQueues(query) {
  const words = norm(query).split(/\s+/).filter(Boolean);
  return directory.queues.filter((q) => (q.channels || []).includes("callback")
    && words.every((w) => norm(`${q.agency_name} ${q.name} ${q.id}`).includes(w)));
}

function drawCallbackQueues() {
  const list = $("#callback-list");
  const chosen = list.querySelector("input:checked")?.value;
  const found = callbackQueues($("#callback-search").value);
  list.replaceChildren();
  if (!found.length) {
    list.append(h("p", { class: "muted", text: t("end.callback_none") }));
    return;
  }
  found.slice(0, MAX_RESULTS).forEach((q, i) => {
    const id = "cq-" + i;
    list.append(h("div", { class: "result" },
      h("input", { type: "radio", name: "callback-queue", id, value: q.id, checked: q.id === chosen }),
      h("label", { htmlFor: id }, h("strong", { text: q.agency_name || agencyName(q.agency) }), " · ", q.name)));
  });
  if (found.length > MAX_RESULTS) list.append(h("p", { class: "hint", text: t("transfer.more", { n: found.length - MAX_RESULTS }) }));
}

// showCallback opens the callback's fields; filing one is the contact's
// result, so the result to choose steps aside and the button says what
// it does.
function showCallback() {
  const on = $("#end-callback").checked;
  $("#end-callback-fields").hidden = !on;
  $("#end-disposition").disabled = on;
  if (interpreting(target)) return;
  $("#end-disposition-field").hidden = on;
  setWords($("#end-submit"), on ? "end.submit_callback" : "end.submit");
  if (on) drawCallbackQueues();
}

$("#end-callback").addEventListener("change", () => {
  showCallback();
  if ($("#end-callback").checked) $("#callback-search").focus();
});
$("#callback-search").addEventListener("input", drawCallbackQueues);
$("#callback-search").addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowDown") {
    const first = $("#callback-list input");
    if (first) {
      ev.preventDefault();
      first.checked = true;
      first.focus();
    }
  }
});

// A number to call: 3–32 digits, a + in front allowed.
export const validNumber = (n) => /^\+?[0-9]+$/.test(n) && n.length >= 3 && n.length <= 32;

function endFrame(form) {
  const frame = { type: "end", contact_id: target.contact.contact_id, disposition: $("#end-disposition").value, summary: $("#end-summary").value.trim() };
  if (interpreting(target)) return { ...frame, disposition: "interpreted" };
  if (!$("#end-callback").checked) return frame;
  const queue = form.querySelector("input[name=callback-queue]:checked")?.value;
  const number = $("#callback-number").value.replace(/[\s-]/g, "");
  if (!queue) throw { field: "callback.queue", message: t("end.callback_need_queue") };
  if (!number && !target.contact.callback_number) throw { field: "callback.number", message: t("end.callback_need_number") };
  if (number && !validNumber(number)) throw { field: "callback.number", message: t("end.callback_bad_number") };
  return { ...frame, disposition: "callback_filed", callback: { queue, number, note: $("#callback-note").value.trim() } };
}

$("#end-cancel").addEventListener("click", () => $("#end-dialog").close());
$("#end-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  clearFieldErrors(form);
  let frame;
  try {
    frame = endFrame(form);
  } catch (e) {
    return showFieldErrors(form, e);
  }
  const button = $("#end-submit");
  button.disabled = true;
  try {
    await send(frame);
    $("#end-dialog").close();
    if (frame.callback) announce(t("end.callback_sent"));
  } catch (e) {
    const field = e.field === "note" && frame.callback ? "callback.note" : e.field;
    showFieldErrors(form, { field, message: e.code === "network" ? t("conn.not_sent") : e.message });
  } finally {
    button.disabled = false;
  }
});
