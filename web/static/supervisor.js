// The supervisor's page (/supervisor): the live wallboard, transcript
// review and reports, for their agency (admins choose any agency, or all).
import { t, onLangChange } from "/static/i18n.js";
import { api } from "/static/api.js";
import { $, $$, h } from "/static/ui.js";
import { startShell } from "/static/shell.js";
import { loadNames } from "/static/names.js";
import { startBoard, stopBoard, redrawBoard } from "/static/wallboard.js";
import { fillFilters, reviewAs } from "/static/review.js";
import { startReports, redrawReports } from "/static/reports.js";

const user = await startShell(["admin", "supervisor"]);
const isAdmin = user.role === "admin";
reviewAs(user);
await loadNames();
let section = "";

async function drawPicker() {
  const sel = $("#agency");
  if (isAdmin) {
    const { items } = await api("GET", "/v1/agencies?limit=500");
    sel.replaceChildren(h("option", { value: "", text: t("sup.all_agencies") }), ...items.map((a) => h("option", { value: a.id, text: a.name })));
    sel.value = sessionStorage.getItem("tellonce.sup.agency") || "";
  } else {
    const { items } = await api("GET", "/v1/agencies?limit=500");
    const mine = items.find((a) => a.id === user.agency);
    sel.replaceChildren(h("option", { value: user.agency, text: mine ? mine.name : user.agency }));
    sel.disabled = true;
  }
}

function agency() {
  return $("#agency").value;
}

function showSection(name) {
  section = name;
  for (const tab of $$("[role=tab][data-section]")) {
    const on = tab.dataset.section === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $("#" + tab.getAttribute("aria-controls")).hidden = !on;
  }
  history.replaceState(null, "", "#" + name);
  if (name === "board") startBoard(agency());
  else stopBoard();
  if (name === "review") fillFilters(agency());
  if (name === "reports") startReports(agency());
  $("#live-state").hidden = name !== "board";
}

const sections = ["board", "review", "reports"];
const sectionOf = (hash) => (sections.includes(hash.slice(1)) ? hash.slice(1) : "board");

for (const tab of $$("[role=tab][data-section]")) {
  tab.addEventListener("click", () => showSection(tab.dataset.section));
  tab.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const order = sections, i = order.indexOf(tab.dataset.section);
    const next = order[(i + (ev.key === "ArrowRight" ? 1 : order.length - 1)) % order.length];
    $("#tab-" + next).focus();
    showSection(next);
  });
}

$("#agency").addEventListener("change", () => {
  sessionStorage.setItem("tellonce.sup.agency", agency());
  showSection(section);
});

onLangChange(() => {
  redrawBoard();
  fillFilters(agency());
  redrawReports();
});

addEventListener("hashchange", () => {
  const want = sectionOf(location.hash);
  if (want !== section) showSection(want);
});

await drawPicker();
showSection(sectionOf(location.hash));
