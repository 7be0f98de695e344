// Administration (/admin): agencies (admins), and the queues and users of
// an agency (its supervisors, or admins). Forms send what the API takes and
// show its validation message beside the field it names.
import { t, onLangChange } from "/static/i18n.js";
import { api } from "/static/api.js";
import { $, $$, h, showFieldErrors, clearFieldErrors, announce } from "/static/ui.js";
import { startShell } from "/static/shell.js";

const user = await startShell(["admin", "supervisor"]);
const isAdmin = user.role === "admin";
const CENTRAL = "-"; // the picker's entry for users of no agency (admins only)

let agencies = [];
let queues = [];
let users = [];
let section = "";
let editing = null; // the record in the open form, or null when creating

// Lists: one page of up to 500 is plenty for a console; the API pages
// beyond that.
async function all(path) {
  const sep = path.includes("?") ? "&" : "?";
  return (await api("GET", `${path}${sep}limit=500`)).items;
}

function agency() {
  return $("#agency").value;
}

function notice(kind, text) {
  $("#page-error").hidden = kind !== "err";
  $("#page-ok").hidden = kind !== "ok";
  const el = kind === "err" ? $("#page-error") : $("#page-ok");
  if (kind) {
    el.textContent = text;
    announce(text);
  }
}

// Parsing the compact text fields into what the API takes.
function parsePairs(text) {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean).map((s) => {
    const [k, v] = s.split("=").map((x) => x.trim());
    return [k, v === undefined || v === "" ? 1 : Number(v)];
  });
}
const skillsOf = (text) => Object.fromEntries(parsePairs(text));
const membershipsOf = (text) => parsePairs(text).map(([queue, level]) => ({ queue, level }));
const overflowOf = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean).map((line) => {
  const [after, to] = line.split(/\s+/);
  return { after_s: Number(after), to: to || "" };
});
// Opening hours, one weekday a line: "mon 09:00-12:00 13:00-18:00"; an
// empty field is no hours (always open), a weekday left out is closed.
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
function hoursOf(text) {
  const lines = text.split("\n").map((s) => s.trim()).filter(Boolean);
  if (!lines.length) return null;
  const week = Object.fromEntries(DAYS.map((d) => [d, []]));
  for (const line of lines) {
    const [day, ...ranges] = line.toLowerCase().split(/[\s,]+/);
    if (!DAYS.includes(day)) throw { field: "hours", message: t("admin.hours_bad_day", { line }) };
    for (const r of ranges) {
      const [start, end] = r.split("-");
      week[day].push({ start: start || "", end: end || "" });
    }
  }
  return week;
}
const hoursText = (week) => (week ? DAYS.filter((d) => week[d] && week[d].length)
  .map((d) => `${d} ${week[d].map((r) => `${r.start}-${r.end}`).join(" ")}`).join("\n") : "");
// Holidays, one a line: "2027-01-01 신정".
const holidaysOf = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean).map((line) => {
  const [date, ...name] = line.split(/\s+/);
  return { date, name: name.join(" ") };
});
const holidaysText = (list) => (list || []).map((x) => (x.name ? `${x.date} ${x.name}` : x.date)).join("\n");
const pairsText = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join(", ");
const num = (el) => (el.value.trim() === "" ? undefined : Number(el.value));

// Sections.
function showSection(name) {
  section = name;
  for (const tab of $$("[role=tab][data-section]")) {
    const on = tab.dataset.section === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $("#" + tab.getAttribute("aria-controls")).hidden = !on;
  }
  $("#agency-pick").hidden = name === "agencies";
  history.replaceState(null, "", "#" + name);
  notice("");
  load();
}

for (const tab of $$("[role=tab][data-section]")) {
  tab.addEventListener("click", () => showSection(tab.dataset.section));
  tab.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const tabs = $$("[role=tab][data-section]").filter((x) => !x.hidden);
    const i = tabs.indexOf(tab) + (ev.key === "ArrowRight" ? 1 : -1);
    const next = tabs[(i + tabs.length) % tabs.length];
    next.focus();
    showSection(next.dataset.section);
  });
}

async function load() {
  try {
    if (section === "agencies") await loadAgencies();
    if (section === "queues") await loadQueues();
    if (section === "users") await loadUsers();
  } catch (e) {
    notice("err", e.message);
  }
}

function rowActions(label, onEdit, onDelete) {
  return h("td", { class: "row-actions" },
    h("button", { type: "button", class: "quiet", onclick: onEdit, "aria-label": `${t("edit")}: ${label}`, text: t("edit") }),
    h("button", { type: "button", class: "quiet", onclick: onDelete, "aria-label": `${t("delete")}: ${label}`, text: t("delete") }));
}

function confirmDelete(what) {
  return new Promise((resolve) => {
    const d = $("#confirm");
    $("#confirm-text").textContent = t("admin.confirm_delete", { what });
    const done = (v) => {
      d.close();
      resolve(v);
    };
    $("#confirm-yes").onclick = () => done(true);
    $("#confirm-no").onclick = () => done(false);
    d.onclose = () => resolve(false);
    d.showModal();
    $("#confirm-no").focus();
  });
}

async function remove(path, label) {
  if (!(await confirmDelete(label))) return;
  try {
    await api("DELETE", path);
    notice("ok", t("admin.deleted", { what: label }));
    await load();
  } catch (e) {
    notice("err", e.message);
  }
}

// openForm shows a form for a new record (rec null) or an existing one.
function openForm(form, title, rec) {
  editing = rec;
  clearFieldErrors(form);
  form.reset();
  $("#" + form.getAttribute("aria-labelledby")).textContent = title;
  form.hidden = false;
  notice("");
  form.querySelector("input:not([disabled]):not([type=checkbox]), select").focus();
}

for (const form of $$("form.edit-form")) {
  form.querySelector("[data-cancel]").addEventListener("click", () => {
    form.hidden = true;
    editing = null;
  });
}

async function save(form, method, path, body, what) {
  clearFieldErrors(form);
  try {
    await api(method, path, body);
    form.hidden = true;
    editing = null;
    notice("ok", t("admin.saved", { what }));
    await load();
  } catch (e) {
    showFieldErrors(form, e.code === "network" ? { message: t("error.network") } : e);
  }
}

// Agencies.
async function loadAgencies() {
  agencies = await all("/v1/agencies");
  drawPicker();
  $("#agency-rows").replaceChildren(...agencies.map((a) => h("tr", null,
    h("td", { text: a.id }), h("td", { text: a.name }), h("td", { text: a.description }),
    rowActions(a.name, () => editAgency(a), () => remove(`/v1/agencies/${encodeURIComponent(a.id)}`, a.name)))));
}

function editAgency(a) {
  const form = $("#agency-form");
  openForm(form, a ? t("admin.agency_edit", { name: a.name }) : t("admin.agency_new"), a);
  $("#a-id").disabled = !!a;
  $("#a-id").value = a ? a.id : "";
  $("#a-name").value = a ? a.name : "";
  $("#a-description").value = a ? a.description : "";
  $("#a-zone").value = a ? a.time_zone : "Asia/Seoul";
  $("#a-holidays").value = a ? holidaysText(a.holidays) : "";
  (a ? $("#a-name") : $("#a-id")).focus();
}

$("#agency-new").addEventListener("click", () => editAgency(null));
$("#agency-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { name: $("#a-name").value.trim(), description: $("#a-description").value.trim(),
    time_zone: $("#a-zone").value.trim(), holidays: holidaysOf($("#a-holidays").value) };
  if (editing) return save(ev.target, "PATCH", `/v1/agencies/${encodeURIComponent(editing.id)}`, body, body.name);
  save(ev.target, "POST", "/v1/agencies", { id: $("#a-id").value.trim(), ...body }, body.name);
});

// The agency picker: admins choose, a supervisor has their own.
function drawPicker() {
  const sel = $("#agency");
  const keep = sel.value || sessionStorage.getItem("tellonce.admin.agency") || user.agency || (agencies[0] && agencies[0].id) || "";
  const list = isAdmin ? agencies : agencies.filter((a) => a.id === user.agency);
  sel.replaceChildren(...list.map((a) => h("option", { value: a.id, text: a.name })));
  if (isAdmin && section === "users") sel.append(h("option", { value: CENTRAL, text: t("me.central") }));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : sel.options[0]?.value || "";
  sel.disabled = !isAdmin;
}

$("#agency").addEventListener("change", () => {
  sessionStorage.setItem("tellonce.admin.agency", agency());
  for (const f of $$("form.edit-form")) f.hidden = true;
  load();
});

// Queues.
async function loadQueues() {
  if (!agencies.length) agencies = await all("/v1/agencies");
  drawPicker();
  if (agency() === CENTRAL || !agency()) return;
  queues = await all(`/v1/queues?agency=${encodeURIComponent(agency())}`);
  $("#queue-rows").replaceChildren(...queues.map((q) => h("tr", null,
    h("td", { text: q.id }), h("td", { text: q.name }),
    h("td", { text: q.channels.map((c) => t("channel." + c)).join(", ") }),
    h("td", { text: t("strategy." + q.strategy) }),
    h("td", { class: "num", text: q.offer_timeout_s }), h("td", { class: "num", text: q.wrapup_s }),
    h("td", { text: t("admin.sla_text", { pct: q.sla.target_pct, s: q.sla.answer_within_s }) }),
    h("td", { text: q.public ? t("yes") : t("no") }),
    rowActions(q.name, () => editQueue(q), () => remove(`/v1/queues/${encodeURIComponent(q.id)}`, q.name)))));
  if (!queues.length) $("#queue-rows").append(h("tr", null, h("td", { colspan: 9, class: "empty", text: t("admin.no_queues") })));
}

function editQueue(q) {
  const form = $("#queue-form");
  openForm(form, q ? t("admin.queue_edit", { name: q.name }) : t("admin.queue_new"), q);
  $("#q-prefix").textContent = agency() + ".";
  $("#q-id").disabled = !!q;
  $("#q-id").value = q ? q.id.split(".").slice(1).join(".") : "";
  $("#q-name").value = q ? q.name : "";
  $("#q-kind").value = q ? q.kind : "service";
  const channels = q ? q.channels : ["voice", "chat"];
  for (const box of $$("input[name=channels]", form)) box.checked = channels.includes(box.value);
  $("#q-strategy").value = q ? q.strategy : "longest-idle";
  $("#q-offer").value = q ? q.offer_timeout_s : 20;
  $("#q-wrapup").value = q ? q.wrapup_s : 10;
  $("#q-widen").value = q ? q.widen_after_s : 30;
  $("#q-sla-within").value = q ? q.sla.answer_within_s : 20;
  $("#q-sla-pct").value = q ? q.sla.target_pct : 80;
  $("#q-callback").value = q ? q.callback_after_s : 0;
  $("#q-retries").value = q ? q.callback_retries : 2;
  $("#q-retry").value = q ? q.callback_retry_s : 300;
  $("#q-max").value = q ? q.max_waiting : 0;
  $("#q-aging").value = q ? q.aging_s : 0;
  $("#q-hours").value = q ? hoursText(q.hours) : "";
  $("#q-skills").value = q ? pairsText(q.required_skills) : "";
  $("#q-overflow").value = q ? q.overflow.map((o) => `${o.after_s} ${o.to}`).join("\n") : "";
  $("#q-policy").value = q ? q.overflow_policy : "own-first";
  $("#q-help").value = q ? q.help_while.min_idle : 0;
  $("#q-public").checked = q ? q.public : true;
  (q ? $("#q-name") : $("#q-id")).focus();
}

$("#queue-new").addEventListener("click", () => editQueue(null));
// An interpreter queue is never public and takes no callbacks: choosing
// that kind clears both, so the form starts from what the API accepts.
$("#q-kind").addEventListener("change", () => {
  if ($("#q-kind").value !== "interpreter") return;
  $("#q-public").checked = false;
  for (const box of $$("input[name=channels][value=callback]", $("#queue-form"))) box.checked = false;
});
$("#queue-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const body = {
    name: $("#q-name").value.trim(), kind: $("#q-kind").value,
    channels: $$("input[name=channels]:checked", form).map((b) => b.value),
    strategy: $("#q-strategy").value,
    offer_timeout_s: num($("#q-offer")), wrapup_s: num($("#q-wrapup")), widen_after_s: num($("#q-widen")),
    sla: { answer_within_s: num($("#q-sla-within")), target_pct: num($("#q-sla-pct")) },
    callback_after_s: num($("#q-callback")), callback_retries: num($("#q-retries")), callback_retry_s: num($("#q-retry")),
    max_waiting: num($("#q-max")), aging_s: num($("#q-aging")),
    required_skills: skillsOf($("#q-skills").value), overflow: overflowOf($("#q-overflow").value),
    overflow_policy: $("#q-policy").value, help_while: { min_idle: num($("#q-help")) },
    public: $("#q-public").checked,
  };
  try {
    body.hours = hoursOf($("#q-hours").value);
  } catch (e) {
    showFieldErrors(form, e);
    return;
  }
  if (editing) return save(form, "PATCH", `/v1/queues/${encodeURIComponent(editing.id)}`, body, body.name);
  save(form, "POST", `/v1/agencies/${encodeURIComponent(agency())}/queues`, { id: $("#q-id").value.trim(), ...body }, body.name);
});

// Users.
async function loadUsers() {
  if (!agencies.length) agencies = await all("/v1/agencies");
  drawPicker();
  const a = agency();
  users = a === CENTRAL ? (await all("/v1/users")).filter((u) => !u.agency) : await all(`/v1/users?agency=${encodeURIComponent(a)}`);
  $("#user-rows").replaceChildren(...users.map((u) => h("tr", null,
    h("td", { text: u.username }), h("td", { text: u.name }), h("td", { text: t("role." + u.role) }),
    h("td", { text: u.queues.map((m) => `${m.queue} (${m.level})`).join(", ") }),
    h("td", { class: "num", text: u.role === "agent" ? u.max_chats : "" }),
    rowActions(u.name, () => editUser(u), () => remove(`/v1/users/${encodeURIComponent(u.username)}`, u.name)))));
}

function editUser(u) {
  const form = $("#user-form");
  openForm(form, u ? t("admin.user_edit", { name: u.name }) : t("admin.user_new"), u);
  $("#u-username").disabled = !!u;
  $("#u-username").value = u ? u.username : "";
  $("#u-name").value = u ? u.name : "";
  $("#u-password").value = "";
  $("#u-password-hint").textContent = t(u ? "admin.password_keep" : "admin.password_hint");
  const roles = isAdmin ? ["agent", "supervisor", "admin", "gateway"] : ["agent", "supervisor"];
  for (const o of $("#u-role").options) o.hidden = o.disabled = !roles.includes(o.value);
  $("#u-role").value = u ? u.role : "agent";
  $("#u-max").value = u ? u.max_chats : 3;
  $("#u-sip").value = u ? u.sip_uri || "" : "";
  $("#u-skills").value = u ? pairsText(u.skills) : "";
  $("#u-queues").value = u ? u.queues.map((m) => `${m.queue}=${m.level}`).join(", ") : "";
  $("#u-pii-field").hidden = !isAdmin;
  $("#u-pii").checked = u ? u.pii : false;
  $("#u-export-field").hidden = !isAdmin;
  $("#u-export").checked = u ? u.export : false;
  (u ? $("#u-name") : $("#u-username")).focus();
}

$("#user-new").addEventListener("click", () => editUser(null));
$("#user-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = {
    name: $("#u-name").value.trim(), role: $("#u-role").value, max_chats: num($("#u-max")),
    skills: skillsOf($("#u-skills").value), queues: membershipsOf($("#u-queues").value),
    // Only agents and supervisors take calls: other roles keep no phone.
    sip_uri: ["agent", "supervisor"].includes($("#u-role").value) ? $("#u-sip").value.trim() : "",
  };
  if ($("#u-password").value) body.password = $("#u-password").value;
  if (isAdmin) {
    body.pii = $("#u-pii").checked;
    body.export = $("#u-export").checked;
  }
  if (editing) return save(ev.target, "PATCH", `/v1/users/${encodeURIComponent(editing.username)}`, body, body.name);
  const a = agency();
  save(ev.target, "POST", "/v1/users", { username: $("#u-username").value.trim(), agency: a === CENTRAL ? "" : a, ...body }, body.name);
});

onLangChange(load);

// The section is in the address (#queues, #users, #agencies).
function fromHash() {
  const wanted = location.hash.slice(1);
  return ["queues", "users", "agencies"].includes(wanted) && (wanted !== "agencies" || isAdmin) ? wanted : "queues";
}
addEventListener("hashchange", () => {
  if (fromHash() !== section) showSection(fromHash());
});
$("#tab-agencies").hidden = !isAdmin;
showSection(fromHash());
