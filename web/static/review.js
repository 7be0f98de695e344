// Transcript review: search every case that touched the agency (a Korean
// substring works), read a case's whole timeline across agencies, and
// export it with a reason, which the server writes to the access audit;
// play a leg's recording (every request audited) or download it with the
// same reason. Exports and downloads need the export permission: without
// it their controls are not shown, and a note says why.
import { t } from "/static/i18n.js";
import { api } from "/static/api.js";
import { $, h, dateTime, showFieldErrors, clearFieldErrors, announce } from "/static/ui.js";
import { agencyName, agentName, directory } from "/static/names.js";
import { contextFacts, dispositionText, legs, timeline } from "/static/timeline.js";

let agency = "";
let cursor = "";
let lastQuery = "";
let current = null; // the case on screen
let mayExport = false; // the reviewer holds the export permission

// reviewAs sets who reviews: the session's user.
export function reviewAs(user) {
  mayExport = !!user.export;
}

// highlight marks every occurrence of the search text in a snippet.
function highlight(text, q) {
  if (!q) return [text];
  const out = [];
  const hay = text.toLocaleLowerCase(), needle = q.toLocaleLowerCase();
  let i = 0;
  for (let j = hay.indexOf(needle); j >= 0; j = hay.indexOf(needle, i)) {
    out.push(text.slice(i, j), h("mark", { text: text.slice(j, j + needle.length) }));
    i = j + needle.length;
  }
  out.push(text.slice(i));
  return out;
}

// fillFilters offers the agency's queues and agents as filters.
export function fillFilters(forAgency) {
  agency = forAgency;
  const qs = directory.queues.filter((q) => !agency || q.agency === agency);
  $("#s-queue").replaceChildren(h("option", { value: "", text: t("sup.any") }), ...qs.map((q) => h("option", { value: q.id, text: `${q.agency_name} · ${q.name}` })));
  const as = directory.agents.filter((a) => !agency || a.agency === agency);
  $("#s-agent").replaceChildren(h("option", { value: "", text: t("sup.any") }), ...as.map((a) => h("option", { value: a.username, text: a.name })));
}

function params() {
  const p = new URLSearchParams();
  const add = (k, v) => v && p.set(k, v);
  add("q", $("#s-q").value.trim());
  add("queue", $("#s-queue").value);
  add("agent", $("#s-agent").value);
  add("disposition", $("#s-disposition").value);
  if (agency) p.set("agency", agency);
  for (const k of ["from", "to"]) {
    const v = $("#s-" + k).value;
    if (v) p.set(k, new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z"));
  }
  p.set("limit", "20");
  return p;
}

function resultItem(c) {
  const q = lastQuery;
  return h("li", { class: "result-card" },
    h("p", { class: "result-head" },
      h("strong", { text: dateTime(c.started_at) }), " · ",
      c.agencies.map(agencyName).join(" → "),
      c.dispositions.length ? h("span", { class: "tag", text: c.dispositions.map(dispositionText).join(", ") }) : null),
    h("p", { class: "snippet" }, ...highlight(c.snippet || "", q)),
    h("p", { class: "hint", text: `${t("sup.agents_on_case")}: ${c.agents.map(agentName).join(", ") || "—"}` }),
    h("button", { type: "button", class: "secondary", onclick: () => openCase(c.case_id), "aria-label": `${t("sup.open_case")}: ${dateTime(c.started_at)}` }, t("sup.open_case")));
}

async function search(more) {
  const form = $("#search-form");
  clearFieldErrors(form);
  const p = params();
  if (more && cursor) p.set("cursor", cursor);
  try {
    const res = await api("GET", "/v1/transcripts?" + p.toString());
    lastQuery = p.get("q") || "";
    if (!more) $("#results").replaceChildren();
    $("#results").append(...res.items.map(resultItem));
    cursor = res.next_cursor;
    $("#more").hidden = !cursor;
    const n = $("#results").children.length;
    $("#results-count").textContent = n ? t("sup.found", { n }) : t("sup.none");
    announce($("#results-count").textContent);
  } catch (e) {
    showFieldErrors(form, e.status === 503 ? { message: t("sup.no_review") } : e);
  }
}

async function openCase(id) {
  const box = $("#case");
  try {
    current = await api("GET", `/v1/transcripts/${encodeURIComponent(id)}`);
  } catch (e) {
    announce(e.message);
    return;
  }
  const c = current;
  $("#case-title").textContent = t("sup.case_title", { caller: c.caller.name || t("case.citizen_anon"), time: dateTime(c.started_at) });
  $("#case-meta").textContent = `${c.agencies.map(agencyName).join(" → ")} · ${t("sup.status." + c.status)}`;
  $("#case-masked").hidden = !c.masked;
  $("#case-context").replaceChildren(contextFacts({ caller: c.caller, context: c.context }, c));
  $("#case-legs").replaceChildren(legs(c));
  $("#case-timeline").replaceChildren(timeline(c, recordingPlayer));
  clearFieldErrors($("#export-form"));
  $("#x-reason").value = "";
  $("#export-form").hidden = !mayExport;
  $("#export-denied").hidden = mayExport;
  box.hidden = false;
  box.focus();
}

// A recording the server keeps is named <case>_<contact>_<start>.wav; an
// older entry names a file at the edge, which cannot be played here.
const storedRecording = /^[A-Za-z0-9][A-Za-z0-9-]*_[A-Za-z0-9][A-Za-z0-9-]*_\d{8}T\d{6}\.\d{3}Z\.wav$/;
const speeds = [0.75, 1, 1.25, 1.5, 2];

function recordingURL(name) {
  return `/v1/cases/${encodeURIComponent(current.case_id)}/recordings/${encodeURIComponent(name)}`;
}

// recordingPlayer is a leg's player: seek with the controls, a speed, and
// (with the export permission) a download that needs the export's reason.
// Nothing is fetched until the reviewer plays, so opening a case is not a
// playback in the audit.
function recordingPlayer(ev) {
  const name = (ev.data || {}).file || "";
  if (ev.type !== "recording" || !storedRecording.test(name)) return null;
  if (current.masked) return h("p", { class: "hint rec-no-pii", text: t("rec.needs_pii") });
  const msg = h("p", { class: "field-error", role: "alert", hidden: true });
  const audio = h("audio", { controls: true, preload: "none", src: recordingURL(name), class: "rec-audio", "aria-label": t("rec.player") });
  audio.addEventListener("error", () => {
    msg.textContent = t("rec.unavailable");
    msg.hidden = false;
  });
  const speed = h("select", { class: "rec-speed", "aria-label": t("rec.speed"), onchange: () => { audio.playbackRate = Number(speed.value); } },
    speeds.map((r) => h("option", { value: String(r), text: `${r}×`, selected: r === 1 })));
  audio.addEventListener("play", () => { audio.playbackRate = Number(speed.value); });
  const download = mayExport ? h("button", { type: "button", class: "secondary rec-download", onclick: () => downloadRecording(name, msg) }, t("rec.download")) : null;
  return h("div", { class: "rec-player" }, audio, h("span", { class: "rec-speed-label", text: t("rec.speed") }), speed, download, msg);
}

// downloadRecording saves the file with the reason typed for the export.
async function downloadRecording(name, msg) {
  const reason = $("#x-reason").value.trim();
  if (!reason) {
    showFieldErrors($("#export-form"), { field: "reason", message: t("rec.reason_needed") });
    $("#x-reason").focus();
    return;
  }
  msg.hidden = true;
  try {
    const res = await fetch(`${recordingURL(name)}?download=1&reason=${encodeURIComponent(reason)}`, { credentials: "same-origin" });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      msg.textContent = (body.error && body.error.message) || t("error.generic");
      msg.hidden = false;
      return;
    }
    const blob = await res.blob();
    const a = h("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    announce(t("sup.exported"));
  } catch {
    msg.textContent = t("error.network");
    msg.hidden = false;
  }
}

$("#search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search(false);
});
$("#search-form").addEventListener("reset", () => {
  $("#results").replaceChildren();
  $("#results-count").textContent = "";
  $("#more").hidden = true;
});
$("#more").addEventListener("click", () => search(true));

// Export: fetched, so that a refusal shows beside the reason, then saved.
$("#export-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  clearFieldErrors(form);
  const reason = $("#x-reason").value.trim();
  if (!reason) return showFieldErrors(form, { field: "reason", message: t("sup.reason_needed") });
  const format = $("#x-format").value;
  const url = `/v1/transcripts/${encodeURIComponent(current.case_id)}/export?format=${format}&reason=${encodeURIComponent(reason)}`;
  try {
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      return showFieldErrors(form, body.error || { message: t("error.generic") });
    }
    const blob = await res.blob();
    const a = h("a", { href: URL.createObjectURL(blob), download: `case-${current.case_id}.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    announce(t("sup.exported"));
  } catch {
    showFieldErrors(form, { message: t("error.network") });
  }
});

