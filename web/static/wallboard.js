// The wallboard: the agency's queues live (GET /v1/stats/queues, then the
// server-sent events of /v1/stats/stream), the agents grid (polled: there
// is no agent stream), and charts of waiting and service level over the
// day: drawn from the server's samples of the day (one a minute, GET
// /v1/stats/queues/history), then followed live from the stream.
import { t } from "/static/i18n.js";
import { api, serverOffset } from "/static/api.js";
import { $, h, duration, lightBadge, waitWords, clock } from "/static/ui.js";
import { draw } from "/static/chart.js";

const MINUTE = 60000;
const DAY = 24 * 60 * MINUTE;

let source = null;
let agentTimer = 0;
let agency = "";
let queues = [];
let agents = [];
let history = {}; // queue id → [[ms, waiting, servicePct|null]…], a minute apart
let dayStart = 0; // ms: the server's midnight, where the charts begin
let reloadedAt = 0; // ms: when the history was last fetched for a new day

const localMidnight = () => new Date().setHours(0, 0, 0, 0);

// Earlier versions kept the charts' samples in this browser, a key a day
// and agency; the server keeps them now.
try {
  for (const k of Object.keys(localStorage)) if (k.startsWith("tellonce.board.")) localStorage.removeItem(k);
} catch {
  // no storage: nothing to clear
}

// fetchHistory fetches today's samples of the board's queues. Without them
// (an older server, a failed request) the charts start with the stream.
async function fetchHistory(query) {
  const out = { dayStart: localMidnight(), history: {} };
  try {
    const res = await api("GET", "/v1/stats/queues/history" + query);
    out.dayStart = Date.parse(res.day_start) || out.dayStart;
    for (const it of res.items) {
      out.history[it.queue] = it.points.map((p) => [Date.parse(p.at), p.waiting, p.service_level_pct ?? null]);
    }
  } catch {
    // the charts start empty
  }
  return out;
}

// follow adds the stream's figures to the charts at most once a minute:
// within a minute the minute's point moves with the figures, so the line
// ends at the live value without growing by the second.
function follow(at) {
  const ms = Date.parse(at) || Date.now() + serverOffset;
  if (ms >= dayStart + DAY && ms - reloadedAt > 10 * MINUTE) {
    // A new day: start the charts again from the server's samples.
    reloadedAt = ms;
    const board = source;
    fetchHistory(agency ? "?agency=" + encodeURIComponent(agency) : "").then((day) => {
      if (source !== board) return; // the board was stopped or changed meanwhile
      ({ dayStart, history } = day);
      drawCharts();
    });
    return;
  }
  const minute = ms - (ms % MINUTE);
  for (const q of queues) {
    const list = (history[q.queue] ||= []);
    const point = [minute, q.waiting, q.today.service_level_pct ?? null];
    if (list.length && list[list.length - 1][0] >= minute) list[list.length - 1] = point;
    else list.push(point);
    if (list.length > 1500) list.splice(0, list.length - 1500);
  }
}

function fact(label, value, key) {
  return h("div", null, h("dt", { text: label }), h("dd", { "data-k": key }, value));
}

function queueCard(q) {
  const d = q.today;
  const sl = d.service_level_pct === null || d.service_level_pct === undefined ? "—" : `${Math.round(d.service_level_pct)}%`;
  const a = q.agents;
  return h("section", { class: `qcard border-${q.light || "none"}`, "data-queue": q.queue, "aria-labelledby": "qh-" + q.queue },
    h("header", null, h("h3", { id: "qh-" + q.queue, text: q.name }), lightBadge(q.light, q)),
    h("dl", { class: "big" },
      fact(t("sup.waiting"), String(q.waiting), "waiting"),
      fact(t("sup.longest"), duration(q.longest_wait_s), "longest"),
      fact(t("sup.estimated"), q.estimated_wait_s === null ? h("span", null, "—", h("small", { text: t("sup.no_staff") })) : waitWords(q.estimated_wait_s), "estimated"),
      fact(t("sup.service_level"), h("span", null, sl, h("small", { text: ` ${t("admin.sla_text", { pct: d.sla.target_pct, s: d.sla.answer_within_s })}` })), "sl")),
    h("p", { class: "agents-line" },
      ["available", "busy", "wrapup", "break", "not_ready", "offline"].map((s) =>
        h("span", { class: "st st-" + s }, `${t("state." + s)} `, h("strong", { text: a[s] ?? 0 })))),
    h("dl", { class: "today" },
      fact(t("sup.offered"), String(d.offered), "offered"),
      fact(t("sup.answered"), String(d.answered), "answered"),
      fact(t("sup.abandoned"), String(d.abandoned), "abandoned"),
      fact(t("sup.transferred"), String(d.transferred), "transferred"),
      fact(t("sup.asa"), d.asa_s === null ? "—" : duration(d.asa_s), "asa"),
      fact(t("sup.aht"), d.aht_s === null ? "—" : duration(d.aht_s), "aht")));
}

function drawQueues(at) {
  $("#queues").replaceChildren(...queues.map(queueCard));
  if (!queues.length) $("#queues").append(h("p", { class: "empty", text: t("admin.no_queues") }));
  $("#board-at").textContent = t("sup.updated", { time: clock(at || new Date().toISOString()) });
  drawCharts();
}

function drawCharts() {
  const from = dayStart || localMidnight(), to = Math.max(Date.now() + serverOffset, from + 3600000);
  const names = new Map(queues.map((q) => [q.queue, q.name]));
  const ids = queues.map((q) => q.queue).slice(0, 5);
  draw($("#chart-waiting"), $("#legend-waiting"),
    ids.map((id) => ({ name: names.get(id), points: (history[id] || []).map((p) => [p[0], p[1]]) })),
    { from, to, label: t("sup.chart_waiting") });
  draw($("#chart-sl"), $("#legend-sl"),
    ids.map((id) => ({ name: names.get(id), points: (history[id] || []).filter((p) => p[2] !== null).map((p) => [p[0], p[2]]) })),
    { from, to, yMax: 100, unit: "%", label: t("sup.chart_sl") });
}

function drawAgents() {
  const now = Date.now();
  $("#agent-rows").replaceChildren(...agents.map((a) => h("tr", null,
    h("td", { text: a.name }),
    h("td", null, h("span", { class: "st st-" + a.state, text: t("state." + a.state) + (a.reason && a.state === "break" ? ` (${t("break." + a.reason)})` : "") })),
    h("td", { class: "num", text: duration((now - Date.parse(a.state_since)) / 1000) }),
    h("td", { class: "num", text: a.voice ? t("channel.voice") : `${a.chats}/${a.max_chats}` }),
    h("td", { class: "num", text: a.today.handled }),
    h("td", { class: "num", text: a.today.aht_s === null ? "—" : duration(a.today.aht_s) }))));
  if (!agents.length) $("#agent-rows").append(h("tr", null, h("td", { colspan: 6, class: "empty", text: t("sup.no_agents") })));
}

async function pollAgents() {
  try {
    agents = (await api("GET", `/v1/stats/agents${agency ? "?agency=" + encodeURIComponent(agency) : ""}`)).items;
  } catch {
    // keep the last figures; the queue stream says whether we are live
  }
  drawAgents();
}

function setLive(up) {
  const el = $("#live-state");
  el.className = "conn " + (up ? "ok" : "down");
  el.textContent = t(up ? "sup.live" : "conn.down");
}

export async function startBoard(forAgency) {
  stopBoard();
  agency = forAgency;
  const q = agency ? "?agency=" + encodeURIComponent(agency) : "";
  try {
    let day;
    [queues, day] = await Promise.all([api("GET", "/v1/stats/queues" + q).then((res) => res.items), fetchHistory(q)]);
    ({ dayStart, history } = day);
    $("#board-error").hidden = true;
    $("#board-body").hidden = false;
  } catch (e) {
    $("#board-error").textContent = e.status === 503 ? t("sup.no_stats") : e.message;
    $("#board-error").hidden = false;
    $("#board-body").hidden = true;
    setLive(false);
    return;
  }
  drawQueues();
  source = new EventSource("/v1/stats/stream" + q);
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
  source.addEventListener("queues", (ev) => {
    const msg = JSON.parse(ev.data);
    queues = msg.queues;
    setLive(true);
    follow(msg.at);
    drawQueues(msg.at);
  });
  pollAgents();
  agentTimer = setInterval(pollAgents, 5000);
}

export function stopBoard() {
  if (source) source.close();
  source = null;
  clearInterval(agentTimer);
}

export function redrawBoard() {
  if (queues.length) drawQueues();
  drawAgents();
}

// The time in state ticks between polls.
setInterval(() => {
  if (source && agents.length) drawAgents();
}, 1000);
