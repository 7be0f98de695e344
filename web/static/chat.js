// The citizen's chat (/chat): choose where to ask, wait with the position,
// the estimated wait and the light, talk, and follow the case through a
// transfer without telling the story again; take a callback instead of
// waiting, and follow an interpreter who joins. The open chat (its id, token
// and what was said) is kept in localStorage so that a reload or a lost
// connection picks it up again; it is forgotten when the chat ends.
import { t, apply, bindLangSelect, onLangChange } from "/static/i18n.js";
import { api } from "/static/api.js";
import { $, h, clock, lightBadge, waitWords, announce, showFieldErrors, clearFieldErrors } from "/static/ui.js";
import { Socket } from "/static/socket.js";
import { languageName } from "/static/names.js";
import { initCallback, drawCallback, drawClosed, onCallbackFrame, onQueuedFrame, when } from "/static/chat-callback.js";

const dir = JSON.parse($("#directory").textContent);
const agencyName = (id) => dir.agencies.find((a) => a.id === id)?.name || id || "";
const queueOf = (id) => dir.agencies.flatMap((a) => a.queues).find((q) => q.id === id);
const STORE = "tellonce.chat";

// {contact_id, token, queue, estimates, log: [...], where: {...}, transfer,
// callbackOffered, callback: {mode, at, number}, cancelledCallback}
let chat = null;
let socket = null;
let statusRows = null; // GET /v1/status, when the server has it
let connectedOnce = false; // this connection has sent its first frame

apply();
bindLangSelect($("#lang"));

// The caller id is this browser's, so one person holds one place in line.
function callerID() {
  let id = localStorage.getItem("tellonce.caller");
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now();
    localStorage.setItem("tellonce.caller", id);
  }
  return id;
}

// rememberCase keeps the case's continuation token with the conversation:
// the proof that lets this citizen, and nobody who merely knows their
// number, come back to the same case.
function rememberCase(caseID, token) {
  if (!chat || !caseID || !token) return;
  chat.case_id = caseID;
  chat.case_token = token;
}

// persist keeps an open chat in this browser, so a reload picks it up. An
// ended one is forgotten at once — its words, its tokens and a callback
// number — though the page still shows it until it is left or reloaded.
function persist() {
  if (chat && chat.where?.kind !== "ended") localStorage.setItem(STORE, JSON.stringify(chat));
  else localStorage.removeItem(STORE);
}

// Large text: a plain switch, remembered, on top of the browser's own zoom.
function setBig(on) {
  document.documentElement.classList.toggle("large-text", on);
  $("#bigger").setAttribute("aria-pressed", on ? "true" : "false");
  localStorage.setItem("tellonce.big", on ? "1" : "");
}
setBig(localStorage.getItem("tellonce.big") === "1");
$("#bigger").addEventListener("click", () => setBig(!document.documentElement.classList.contains("large-text")));

// The start form: topics follow the chosen agency.
function drawTopics() {
  const agency = dir.agencies.find((a) => a.id === $("#agency").value) || dir.agencies[0];
  const sel = $("#queue");
  const keep = sel.value;
  sel.replaceChildren(...(agency ? agency.queues : []).map((q) => h("option", { value: q.id, text: q.closed ? `${q.name} — ${q.closed}` : q.name })));
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  drawQueueNow();
}

// drawQueueNow shows the chosen queue's light and wait, if the server
// publishes them.
function drawQueueNow() {
  const box = $("#queue-now");
  const row = statusRows && statusRows.find((r) => r.queue === $("#queue").value);
  box.replaceChildren();
  // A closed line starts no chat: the page says when it opens instead.
  const choice = dir.agencies.flatMap((a) => a.queues).find((q) => q.id === $("#queue").value);
  const closed = !!row && row.light === "closed" || !row && !!choice && !!choice.closed;
  $("#start").disabled = closed;
  if (closed) box.append(row ? lightBadge(row.light, row) : h("span", { class: "light light-closed", text: choice.closed }));
  else if (row) box.append(t("chat.queue_now"), " ", lightBadge(row.light), " ", row.estimated_wait_s === null ? t("wait.no_staff") : waitWords(row.estimated_wait_s));
}

async function loadStatus() {
  try {
    const rows = await api("GET", "/v1/status");
    statusRows = Array.isArray(rows) ? rows : rows.items || [];
  } catch {
    statusRows = null; // not published yet: the form works without it
  }
  drawQueueNow();
}

if (dir.agencies.length) {
  drawTopics();
  $("#agency").addEventListener("change", drawTopics);
  $("#queue").addEventListener("change", drawQueueNow);
} else {
  $("#start-form").replaceChildren(h("p", { class: "notice warn", text: t("chat.no_queues") }));
}
$("#language").value = ["ko", "en"].includes(document.documentElement.lang) ? document.documentElement.lang : "ko";

// continuing is the earlier case this page continues, from the link an
// ended chat gave ("Continue this question"): /chat#case=<id>&token=<case
// token>. The token is the proof; it travels in the fragment, which never
// reaches a server's logs, and leaves the address bar at once.
let continuing = null;
function readContinuation() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (!p.get("case") || !p.get("token")) return false;
  continuing = { case_id: p.get("case"), case_token: p.get("token") };
  history.replaceState(null, "", location.pathname + location.search);
  $("#continuing").hidden = false;
  return true;
}
readContinuation();

// continueLink is where "Continue this question" leads for an ended chat.
function continueLink(c) {
  return "/chat#" + new URLSearchParams({ case: c.case_id, token: c.case_token }).toString();
}

// startKey names one start of a chat until it succeeds: a retry after a
// lost answer gets the same place back, not "already waiting".
let startKey = null;

async function start(queue) {
  const form = $("#start-form");
  clearFieldErrors(form);
  const button = $("#start");
  button.disabled = true;
  let closedNow = false;
  const body = {
    channel: "chat", queue,
    caller: { id: callerID(), name: $("#name").value.trim(), language: $("#language").value },
    context: { summary: $("#summary").value.trim(), ivr: [], attributes: {} },
  };
  if (continuing) Object.assign(body, continuing);
  try {
    startKey = startKey || (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
    const res = await api("POST", "/v1/contacts", body, { "Idempotency-Key": startKey });
    startKey = null;
    continuing = null;
    $("#continuing").hidden = true;
    chat = { contact_id: res.contact_id, case_id: res.case_id, case_token: res.case_token, token: res.citizen_token, queue, estimates: res.estimated_wait_s !== null,
      log: [], where: { kind: "queued", position: res.position, wait: res.estimated_wait_s, light: res.light } };
    if (body.context.summary) chat.log.push({ from: "citizen", text: body.context.summary, at: new Date().toISOString(), first: true });
    persist();
    $("#summary").value = "";
    openChat();
  } catch (e) {
    const held = e.status === 409 && e.body && e.body.citizen_token ? e.body : null;
    if (held) {
      // This device waits in this line already (another tab, or its
      // record was lost): rejoin that place, its messages read back.
      startKey = null;
      chat = { contact_id: held.contact_id, case_id: held.case_id, case_token: held.case_token, token: held.citizen_token,
        queue, estimates: true, log: [], where: { kind: "queued", position: 0 } };
      persist();
      openChat();
      announce(t("chat.rejoined"));
      return;
    }
    closedNow = e.code === "closed";
    if (closedNow) e = { field: "queue", message: (document.documentElement.lang === "en" ? e.body.label_en : e.body.label) || t("light.closed") };
    else if (e.status === 404 && continuing && e.field === "case_id") {
      // Not this case any more (or never): start afresh.
      continuing = null;
      $("#continuing").hidden = true;
      e = { field: "", message: t("chat.continue_failed") };
    } else if (e.status === 409) e = { field: "queue", message: t("chat.already_waiting") };
    else if (e.status === 429) e = { field: "", message: t("chat.too_many") };
    else if (e.code === "network") e = { field: "", message: t("error.network") };
    showFieldErrors(form, e);
  } finally {
    button.disabled = false;
  }
  if (closedNow) loadStatus(); // the line closed meanwhile: the form says so
}

$("#start-form")?.addEventListener("submit", (ev) => {
  ev.preventDefault();
  start($("#queue").value);
});
$("#central")?.addEventListener("click", () => start($("#central").dataset.queue));

// The conversation.
function logItem(m) {
  if (m.from === "system") return h("li", { class: "divider" + (m.transfer ? " transfer" : m.interp ? " interp" : ""), text: m.text });
  const mine = m.from === "citizen";
  const interp = m.from === "interpreter";
  const who = mine ? (m.first ? t("chat.you_first") : t("chat.you"))
    : interp ? t("chat.interpreter_label", { name: m.who || t("chat.interpreter") }) : m.who || t("chat.agent");
  return h("li", { class: "msg " + (mine ? "from-me" : interp ? "from-agent from-interpreter" : "from-agent") },
    h("p", { class: "msg-who" }, who, " ", h("time", { text: clock(m.at) })),
    h("p", { class: "msg-text", text: m.text }));
}

function drawLog() {
  const log = $("#log");
  log.replaceChildren(...chat.log.map(logItem));
  log.scrollTop = log.scrollHeight;
}

function addLog(m) {
  chat.log.push(m);
  persist();
  const log = $("#log");
  log.append(logItem(m));
  log.scrollTop = log.scrollHeight;
}

// drawWhere says where the citizen stands, in words; the light carries
// its word too.
function drawWhere() {
  const w = chat.where, main = $("#where-main"), detail = $("#where-detail");
  detail.replaceChildren();
  $("#where").className = "where where-" + w.kind;
  const booked = chat.callback && chat.callback.mode === "slot" && chat.callback.at;
  if (w.kind === "queued" && booked) {
    // A booked time: the line does not matter to the citizen any more.
    main.textContent = t("callback.where_slot", { time: when(chat.callback.at) });
    detail.textContent = t("callback.where_slot_detail");
  } else if (w.kind === "queued" && chat.callback && chat.callback.mode === "retry" && chat.callback.at) {
    // Nobody answered: the next try has a time; until then there is no line.
    main.textContent = t("callback.where_retry", { time: when(chat.callback.at) });
    detail.textContent = t("callback.where_retry_detail");
  } else if (w.kind === "queued") {
    main.textContent = w.position > 0 ? t("chat.position", { n: w.position }) : t("chat.connecting");
    if (chat.estimates && w.position > 0) detail.append(lightBadge(w.light), " ", t("chat.estimated", { wait: waitWords(w.wait) }));
    else detail.textContent = t("chat.waiting_hint");
  } else if (w.kind === "talking") {
    // On a callback the agent talks on the phone, not here.
    main.textContent = t(chat.callback ? "callback.calling" : "chat.talking", { agent: w.agent });
    detail.textContent = w.agency;
  } else {
    main.textContent = t("chat.ended");
  }
  const ended = w.kind === "ended";
  // A callback is a phone call, waiting or under way: nobody reads here.
  drawClosed(chat);
  // Waiting for a call, leaving is cancelling the callback: the buttons
  // and the end say so. Once the agent is calling there is nothing to
  // leave here: the citizen takes the call or lets it ring, and leaving
  // would drop the contact in the middle of the call.
  const calling = !!chat.callback && w.kind === "talking";
  const cancels = !!chat.callback && !calling;
  $("#leave").textContent = t(cancels ? "callback.cancel" : "chat.leave");
  $("#leave-sure").textContent = t(cancels ? "callback.cancel_sure" : "chat.leave_sure");
  $("#leave-yes").textContent = t(cancels ? "callback.cancel_yes" : "chat.leave_yes");
  $("#leave-no").textContent = t(cancels ? "callback.cancel_no" : "chat.leave_no");
  if (calling) $("#leave-confirm").hidden = true;
  $("#leave-box").hidden = ended || calling;
  $("#ended-box").hidden = !ended;
  // The way back to this case: its continuation token, never its id alone.
  const link = $("#continue");
  link.hidden = !(ended && chat.case_id && chat.case_token);
  if (!link.hidden) link.href = continueLink(chat);
  const left = chat.cancelledCallback ? "callback.cancelled" : "chat.ended_left";
  $("#ended-text").textContent = t(w.reason === "left" ? left : w.reason === "callback" ? "chat.ended_callback" : "chat.ended_done");
  drawCallback(chat);
  if (chat.transfer) {
    $("#transfer-box").hidden = false;
    $("#transfer-text").textContent = t("chat.transferred", { agency: agencyName(chat.transfer.agency), queue: chat.transfer.queue_name });
  } else {
    $("#transfer-box").hidden = true;
  }
}

// catchUp reads the case's messages after each (re)connect and adds the
// ones this page missed while it was away (a phone's dropped connection).
// A message is known by its time and text, which both sides get from the
// same timeline entry.
async function catchUp() {
  let items;
  try {
    ({ items } = await api("GET", `/v1/contacts/${encodeURIComponent(chat.contact_id)}/messages?token=${encodeURIComponent(chat.token)}`));
  } catch {
    return; // the case has closed, or the server is away again
  }
  const seen = new Set(chat.log.filter((m) => m.from !== "system").map((m) => m.at + "|" + m.text));
  const missed = items.filter((m) => !seen.has(m.at + "|" + m.text));
  if (!missed.length) return;
  for (const m of missed) chat.log.push({ from: m.from, who: m.agent_name, text: m.text, at: m.at });
  chat.log.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  persist();
  drawLog();
}

function onFrame(f) {
  if (!connectedOnce) {
    connectedOnce = true;
    catchUp();
  }
  switch (f.type) {
    case "queued":
      socket.opened();
      chat.where = { kind: "queued", position: f.position, wait: f.estimated_wait_s, light: f.light };
      onQueuedFrame(chat);
      // Once offered, the offer stays while the citizen waits: a wait
      // that shortens a little should not take it away mid-thought.
      if (f.callback_offered && !chat.callbackOffered) {
        chat.callbackOffered = true;
        announce(t("callback.title"));
      }
      break;
    case "callback":
      socket.opened();
      onCallbackFrame(chat, f);
      if (f.mode === "retry" && f.at) announce(t("callback.where_retry", { time: when(f.at) }));
      break;
    case "interpreter": {
      const words = t(f.state === "joined" ? "chat.interp_joined" : "chat.interp_left",
        { name: f.agent_name || t("chat.interpreter"), language: languageName(f.language) });
      addLog({ from: "system", interp: true, text: words, at: new Date().toISOString() });
      announce(words);
      break;
    }
    case "agent_joined":
      socket.opened();
      // A reconnect repeats agent_joined for the agent already talking.
      if (chat.where.kind === "talking" && chat.where.agent === f.agent_name) break;
      chat.where = { kind: "talking", agent: f.agent_name, agency: agencyName(f.agency) };
      addLog({ from: "system", text: t("chat.agent_joined", { agent: f.agent_name, agency: agencyName(f.agency) }), at: new Date().toISOString() });
      announce(t("chat.agent_joined", { agent: f.agent_name, agency: agencyName(f.agency) }));
      break;
    case "message":
      addLog({ from: f.from, who: f.agent_name, text: f.text, at: f.at });
      if (f.from === "agent") announce(`${f.agent_name}: ${f.text}`);
      if (f.from === "interpreter") announce(`${t("chat.interpreter_label", { name: f.agent_name })}: ${f.text}`);
      break;
    case "transferred":
      chat.transfer = { agency: f.agency, queue_name: f.queue_name };
      chat.callbackOffered = false; // the new queue says whether it offers one
      chat.where = { kind: "queued", position: 0 };
      addLog({ from: "system", transfer: true, text: t("chat.transferred", { agency: agencyName(f.agency), queue: f.queue_name }), at: new Date().toISOString() });
      announce(t("chat.transferred", { agency: agencyName(f.agency), queue: f.queue_name }) + " " + t("chat.no_repeat"));
      break;
    case "ended":
      if (f.case_token) rememberCase(chat.case_id, f.case_token);
      chat.where = { kind: "ended", reason: f.reason };
      socket?.stop();
      break;
    default:
      return;
  }
  persist();
  drawWhere();
}

function openChat() {
  $("#start-view").hidden = true;
  $("#chat-view").hidden = false;
  drawLog();
  drawWhere();
  if (chat.where.kind === "ended") return;
  socket = new Socket(`/v1/contacts/${encodeURIComponent(chat.contact_id)}/ws?token=${encodeURIComponent(chat.token)}`, {
    onFrame,
    // A case that closed while the page was away is gone from the live
    // state: say it ended rather than knock on its door for ever.
    async beforeConnect() {
      try {
        const c = await api("GET", `/v1/contacts/${encodeURIComponent(chat.contact_id)}?token=${encodeURIComponent(chat.token)}`);
        // A callback asked for elsewhere (another tab, the phone menu)
        // and not remembered here: the server's word counts.
        if (c && c.channel === "callback" && !chat.callback) {
          chat.callback = { mode: c.status !== "scheduled" ? "keep_place" : c.callback_attempts > 0 ? "retry" : "slot", at: c.callback_at || "" };
          persist();
          drawWhere();
        }
      } catch (e) {
        if (e.status === 404 || e.status === 401) {
          onFrame({ type: "ended", reason: "closed" });
          return false;
        }
      }
      return true;
    },
    onStatus(s) {
      if (s.state !== "open") connectedOnce = false;
      $("#where").classList.toggle("reconnecting", s.state === "waiting");
      if (s.state === "waiting") $("#where-detail").textContent = t("chat.reconnecting");
    },
  });
  socket.connect();
  if (!$("#say-form").hidden) $("#say").focus();
}

$("#say-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#say").value.trim();
  if (!text || chat.callback) return;
  $("#say-error").hidden = true;
  try {
    await socket.send({ type: "say", text });
    $("#say").value = "";
  } catch (e) {
    $("#say-error").textContent = e.code === "network" ? t("chat.not_sent") : e.message;
    $("#say-error").hidden = false;
  }
});
$("#say").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    $("#say-form").requestSubmit();
  }
});

$("#leave").addEventListener("click", () => {
  $("#leave-confirm").hidden = false;
  $("#leave-yes").focus();
  $("#leave-confirm").scrollIntoView({ block: "nearest" });
});
$("#leave-no").addEventListener("click", () => {
  $("#leave-confirm").hidden = true;
  $("#leave").focus();
});
$("#leave-yes").addEventListener("click", async () => {
  $("#leave-confirm").hidden = true;
  if (chat.callback && chat.where.kind === "talking") return; // the agent is calling: nothing to leave
  chat.cancelledCallback = !!chat.callback;
  persist();
  try {
    await socket.send({ type: "leave" });
  } catch {
    // The socket may be down: leave over REST instead.
    await api("DELETE", `/v1/contacts/${encodeURIComponent(chat.contact_id)}?token=${encodeURIComponent(chat.token)}`).catch(() => {});
    onFrame({ type: "ended", reason: "left" });
  }
});
function startAgain() {
  chat = null;
  persist();
  $("#chat-view").hidden = true;
  $("#start-view").hidden = false;
  $("#summary").focus();
}
$("#again").addEventListener("click", () => {
  continuing = null;
  $("#continuing").hidden = true;
  startAgain();
});
// Following "Continue this question" from this very page changes only the
// fragment: no new page, so the start form comes back here.
addEventListener("hashchange", () => {
  if (readContinuation() && (!chat || chat.where?.kind === "ended")) startAgain();
});

initCallback({ chat: () => chat, save: persist, redraw: drawWhere });

onLangChange(() => {
  if (chat) {
    drawLog();
    drawWhere();
  } else {
    drawQueueNow();
  }
});

// Pick up a chat left open in this browser.
try {
  chat = JSON.parse(localStorage.getItem(STORE));
} catch {
  chat = null;
}
if (chat && chat.contact_id && chat.token && chat.where?.kind !== "ended") openChat();
else {
  chat = null;
  persist(); // whatever was left of an ended or broken chat goes
}
loadStatus();
setInterval(loadStatus, 30000);
