// The reports of the supervisor's page: figures per queue, agency or agent
// and per 15 minutes, hour or day over the chosen dates (GET
// /v1/reports/…), as a chart of the offered contacts and of the service
// level, a table of every row, and a CSV download of the same.
import { t } from "/static/i18n.js";
import { api } from "/static/api.js";
import { $, h, duration, showFieldErrors, clearFieldErrors, announce } from "/static/ui.js";
import { draw } from "/static/chart.js";
import { agencyName, queueName, agentName } from "/static/names.js";

let agency = "";
let last = null; // the last answer, redrawn when the language changes

// today is the browser's date as YYYY-MM-DD (the default of the picker).
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function query(format) {
  const p = new URLSearchParams({ from: $("#r-from").value, interval: $("#r-interval").value });
  if ($("#r-to").value) p.set("to", $("#r-to").value);
  if (agency) p.set("agency", agency);
  if (format) p.set("format", format);
  return `/v1/reports/${$("#r-by").value}?${p}`;
}

function keyName(by, key) {
  if (by === "agency") return agencyName(key);
  if (by === "agent") return agentName(key);
  return queueName(key);
}

const num = (v, unit = "") => (v === null || v === undefined ? "—" : v + unit);

// ticks labels the x axis in the report's zone: hours within two days,
// dates over longer spans.
function ticks(from, to, zone) {
  const span = to - from, out = [];
  const step = span <= 2 * 86400000 ? 3 * 3600000 : Math.ceil(span / 86400000 / 8) * 86400000;
  const fmt = new Intl.DateTimeFormat(document.documentElement.lang === "en" ? "en-GB" : "ko-KR", step < 86400000
    ? { timeZone: zone, hour: "numeric", minute: "2-digit", hour12: false }
    : { timeZone: zone, month: "short", day: "numeric" });
  for (let ms = from; ms < to; ms += step) out.push([ms, fmt.format(new Date(ms))]);
  return out;
}

const steps = { "15m": 900000, hour: 3600000, day: 86400000 };

function drawReport() {
  const res = last;
  if (!res) return;
  const from = Date.parse(res.from), to = Date.parse(res.to);
  const keys = [...new Set(res.items.map((r) => r.key))].slice(0, 5);
  const series = (field) => keys.map((k) => ({
    name: keyName(res.by, k),
    points: res.items.filter((r) => r.key === k && r[field] !== null).map((r) => [Date.parse(r.start), r[field]]),
  }));
  // Counts are 0 in the intervals the report leaves out; percentages are
  // unknown there, so their lines only join the intervals that have one.
  const counts = (field) => keys.map((k) => {
    const at = new Map(res.items.filter((r) => r.key === k).map((r) => [Date.parse(r.start), r[field]]));
    const points = [];
    for (let ms = from; ms < to; ms += steps[res.interval]) points.push([ms, at.get(ms) || 0]);
    return { name: keyName(res.by, k), points };
  });
  const tk = ticks(from, to, res.time_zone);
  draw($("#chart-report"), $("#legend-report"), counts(res.by === "agent" ? "answered" : "offered"),
    { from, to, label: t(res.by === "agent" ? "sup.answered" : "rep.chart_offered"), ticks: tk, total: true });
  draw($("#chart-report-sl"), $("#legend-report-sl"), series("service_level_pct"), { from, to, yMax: 100, unit: "%", label: t("rep.chart_sl"), ticks: tk });
  const when = (iso) => new Date(iso).toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "ko-KR",
    { timeZone: res.time_zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  $("#report-rows").replaceChildren(...res.items.map((r) => h("tr", null,
    h("td", { text: keyName(res.by, r.key) }),
    h("td", { text: `${when(r.start)} – ${when(r.end)}` }),
    h("td", { class: "num", text: res.by === "agent" ? "—" : r.offered }),
    h("td", { class: "num", text: r.answered }),
    h("td", { class: "num", text: res.by === "agent" ? "—" : r.abandoned }),
    h("td", { class: "num", text: res.by === "agent" ? "—" : r.transferred_in }),
    h("td", { class: "num", text: r.transferred_out }),
    h("td", { class: "num", text: num(r.service_level_pct, "%") }),
    h("td", { class: "num", text: r.asa_s === null ? "—" : duration(r.asa_s) }),
    h("td", { class: "num", text: r.aht_s === null ? "—" : duration(r.aht_s) }),
    h("td", { class: "num", text: num(r.occupancy_pct, "%") }),
    h("td", { class: "num", text: r.citizen_wait_avg_s === null ? "—" : duration(r.citizen_wait_avg_s) }),
  )));
  if (!res.items.length) $("#report-rows").append(h("tr", null, h("td", { colspan: 12, class: "empty", text: t("rep.none") })));
  $("#report-zone").textContent = t("rep.zone", { zone: res.time_zone, n: res.items.length });
}

async function show() {
  const form = $("#report-form");
  clearFieldErrors(form);
  if (!$("#r-from").value) {
    showFieldErrors(form, { field: "from", message: t("rep.from_needed") });
    return;
  }
  $("#report-csv").href = query("csv");
  try {
    last = await api("GET", query());
    drawReport();
    announce(t("rep.zone", { zone: last.time_zone, n: last.items.length }));
  } catch (err) {
    showFieldErrors(form, err);
  }
}

let bound = false;

// startReports shows the reports of agency ("" = every agency the user may
// see), today's by hour unless the user picked other dates.
export function startReports(forAgency) {
  agency = forAgency;
  if (!bound) {
    bound = true;
    $("#r-from").value = $("#r-from").value || today();
    $("#r-interval").value = "hour";
    $("#report-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      show();
    });
  }
  show();
}

export function redrawReports() {
  drawReport();
}
