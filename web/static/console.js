// The agent desk (/console): the connection, the agent's state, and the
// frames of GET /v1/agent/ws sent on to the offer and chat modules.
import { t, has, onLangChange } from "/static/i18n.js";
import { api, currentUser } from "/static/api.js";
import { $, $$, announce } from "/static/ui.js";
import { startShell } from "/static/shell.js";
import { loadNames, rememberAgent, rememberQueue } from "/static/names.js";
import { Socket } from "/static/socket.js";
import { desk, restored, save } from "/static/desk.js";
import { addOffer, removeOffer, renderOffer, tickOffer, acceptOffer, declineOffer, offerShown } from "/static/offer.js";
import { upsertChat, appendEvent, endChat, setChatStatus, selectChat, moveTab, activeChat, tickChats, redrawChat } from "/static/chats.js";
import { openTransfer, openEnd } from "/static/dialogs.js";
import { onInterpreterFrame, openInterpret } from "/static/interpreters.js";
import { onCallbackResult } from "/static/callbacks.js";
import * as softphone from "/static/softphone.js";

await startShell(["agent"]);
desk.chosen = restored().chosen || "";
await Promise.all([loadNames(), loadWrapups()]);

// loadWrapups learns the wrap-up time of the agency's queues, for the
// countdown after a chat ends.
async function loadWrapups() {
  try {
    const { items } = await api("GET", "/v1/queues?limit=500");
    for (const q of items) {
      desk.wrapup.set(q.id, q.wrapup_s);
      rememberQueue(q.id, q.name);
    }
  } catch {
    // the countdown falls back to the default ten seconds
  }
}

// The state the agent sees: what the router displays, in words.
// The router reports busy and wrapup only on some changes, so the desk
// derives them from its chats as the router does (rows.go display()).
function renderState() {
  const live = [...desk.chats.values()].filter((c) => c.status !== "ended").length;
  const wrapping = [...desk.chats.values()].some((c) => c.status === "ended" && c.wrapEnd > Date.now());
  let st = desk.state;
  if (st !== "offline" && st !== "not_ready") st = live ? "busy" : wrapping ? "wrapup" : st === "busy" || st === "wrapup" ? desk.chosen || st : st;
  // While busy or wrapping up, the server shows that and not the state
  // the agent chose; a desk that does not know it checks no radio rather
  // than claim one (any click then sends the choice).
  const pick = ["available", "break", "offline"].includes(desk.state) ? desk.state : desk.chosen;
  for (const r of $$("input[name=state]")) r.checked = r.value === pick;
  let words = t("state." + st);
  if (st === "break" && has("break." + desk.reason)) words += ` (${t("break." + desk.reason)})`;
  if (st === "busy") words += ` · ${t("desk.load", { n: live, max: desk.me?.max_chats || 1 })}`;
  if ((st === "busy" || st === "wrapup") && pick === "break") words += ` · ${t("desk.break_next")}`;
  $("#state-now").textContent = t("desk.state_now", { state: words });
  $("#state-now").className = "state-now st-" + st;
  $("#break-reason").disabled = pick !== "break";
  if (st === "not_ready") $("#state-now").textContent += " " + t("desk.not_ready_hint");
}

async function chooseState(state) {
  const err = $("#state-error");
  err.hidden = true;
  const frame = { type: "state", state, reason: state === "break" ? $("#break-reason").value : "" };
  try {
    await desk.socket.send(frame);
    desk.chosen = state;
    save();
  } catch (e) {
    err.textContent = e.code === "network" ? t("conn.not_sent") : e.code === "conflict" && state === "offline" ? t("desk.offline_refused") : e.message;
    err.hidden = false;
    renderState();
  }
}

for (const r of $$("input[name=state]")) r.addEventListener("change", () => chooseState(r.value));
$("#break-reason").addEventListener("change", () => {
  if ($("#st-break").checked) chooseState("break");
});

// withHistory keeps a returning caller's earlier cases with their case,
// for the case panel to show.
function withHistory(cs, history) {
  return history && history.length ? { ...cs, history } : cs;
}

// hello is the whole desk: offers and chats as the server has them.
function onHello(f) {
  desk.me = f.agent;
  rememberAgent(f.agent.username, f.agent.name);
  desk.state = f.state;
  desk.reason = f.agent.reason || "";
  if (f.agent.chosen) desk.chosen = f.agent.chosen; // when the server says it
  if (["available", "break", "offline"].includes(f.state)) desk.chosen = f.state;
  if (f.state === "break" && desk.reason) $("#break-reason").value = desk.reason;
  const live = new Set();
  for (const a of f.contacts || []) {
    live.add(a.contact.contact_id);
    upsertChat(a.contact, withHistory(a.case, a.history));
  }
  // A chat the server no longer holds ended while we were away.
  for (const [id, c] of desk.chats) if (!live.has(id) && c.status !== "ended") endChat(id, "lost");
  desk.offers = [];
  for (const o of f.offers || []) addOffer({ ...o, receivedAt: Date.now() });
  renderOffer();
  const want = restored().active;
  const first = desk.chats.has(want) ? want : desk.active && desk.chats.has(desk.active) ? desk.active : desk.order[0];
  if (first) selectChat(first, false);
  renderState();
  softphone.onHello(f);
}

function onFrame(f) {
  if (softphone.onFrame(f)) return;
  switch (f.type) {
    case "hello":
      desk.socket.opened();
      onHello(f);
      break;
    case "offer":
      addOffer({ ...f, receivedAt: Date.now() });
      break;
    case "offer_revoked":
      removeOffer(f.offer_id, f.reason);
      break;
    case "assigned": {
      for (const o of desk.offers.filter((o) => o.contact.contact_id === f.contact.contact_id)) removeOffer(o.offer_id, "accepted");
      upsertChat(f.contact, withHistory(f.case, f.history));
      selectChat(f.contact.contact_id, true);
      renderState();
      break;
    }
    case "message":
      // An interpreter speaks as an agent of the case, marked as such.
      appendEvent(f.case_id, f.contact_id, { type: "message", at: f.at, text: f.text,
        actor: f.from === "citizen" ? "citizen:" : "agent:" + f.agent,
        data: f.from === "interpreter" ? { from: "interpreter" } : {} });
      break;
    case "interpreter": {
      // A line in the conversation too: the request as the case keeps it,
      // the joining and leaving as the desk saw them.
      const chat = onInterpreterFrame(f);
      const at = new Date().toISOString();
      if (chat && f.state === "requested") {
        appendEvent("", f.contact_id, { type: "interpreter_requested", at, actor: "agent:" + desk.me.username,
          data: { language: chat.interp.language } });
      } else if (chat) {
        appendEvent("", f.contact_id, { type: "interpreter", at, actor: "router",
          data: { state: f.state, name: chat.interp.name, language: chat.interp.language } });
      }
      break;
    }
    case "callback_result":
      onCallbackResult(f);
      break;
    case "transcript":
      appendEvent(f.case_id, f.contact_id, { type: "transcript", at: f.at, text: f.text,
        actor: f.speaker === "citizen" ? "citizen:" : "gateway", data: { speaker: f.speaker } });
      break;
    case "note":
      appendEvent(f.case_id, "", { type: "note", at: f.at, text: f.text, actor: "agent:" + f.agent });
      for (const o of desk.offers) if (o.case.case_id === f.case_id) o.case.events.push({ type: "note", at: f.at, text: f.text, actor: "agent:" + f.agent });
      break;
    case "contact_ended":
      endChat(f.contact_id, f.reason);
      softphone.callEnded(f.contact_id);
      renderState();
      break;
    case "transfer_failed":
      setChatStatus(f.contact_id, "live", t("transfer.failed", { reason: t("transfer.failed." + f.reason) }));
      announce(t("transfer.failed", { reason: t("transfer.failed." + f.reason) }));
      break;
    case "state":
      desk.state = f.state;
      // reason says why the state changed ("wrapup_ended", "connected"…);
      // only a break reason is the agent's own.
      if (f.state === "break" && has("break." + f.reason)) desk.reason = f.reason;
      if (["available", "break", "offline"].includes(f.state)) desk.chosen = f.state;
      renderState();
      break;
    case "error":
      announce(f.message);
      break;
  }
}

// The connection: a clear banner while it is down, and back by itself.
let status = { state: "connecting" };
function renderConn() {
  const conn = $("#conn"), banner = $("#banner");
  const up = status.state === "open";
  conn.className = "conn " + (up ? "ok" : "down");
  conn.textContent = t(up ? "conn.ok" : status.state === "connecting" ? "conn.connecting" : "conn.down");
  banner.hidden = up || status.state === "connecting";
  if (status.state === "waiting") {
    $("#banner-text").textContent = t("conn.lost", { n: Math.max(1, Math.ceil((status.retryAt - Date.now()) / 1000)) });
    $("#banner-retry").textContent = t("conn.retry_now");
  } else if (status.state === "stopped" && status.code === 4003) {
    // The login ended: the way on is to log in again, not to reconnect.
    $("#banner-text").textContent = t("conn.signed_out");
    $("#banner-retry").textContent = t("conn.sign_in");
  } else if (status.state === "stopped") {
    $("#banner-text").textContent = t(status.code === 4001 ? "conn.replaced" : "conn.stopped");
    $("#banner-retry").textContent = t(status.code === 4001 ? "conn.take_over" : "conn.retry_now");
  }
  document.body.classList.toggle("disconnected", !up);
}

desk.socket = new Socket("/v1/agent/ws", {
  onFrame,
  onStatus(s) {
    const was = status.state;
    status = s;
    if (s.state !== "open") {
      // The server withdraws offers from a console that went away.
      desk.offers = [];
      renderOffer();
      softphone.onDisconnected();
    }
    if (s.state === "stopped" && s.code === 4003) announce(t("conn.signed_out"));
    else if (was === "open" && s.state !== "open") announce(t("conn.lost_short"));
    renderConn();
  },
  // Before each attempt: a session that ended sends the agent to log in.
  async beforeConnect() {
    try {
      if (!(await currentUser())) {
        location.replace("/?next=/console");
        return false;
      }
    } catch {
      // the server is unreachable: try the socket anyway, and back off
    }
    return true;
  },
});
// Signed out (4003): the login page, which comes back here afterwards.
$("#banner-retry").addEventListener("click", () => {
  if (status.state === "stopped" && status.code === 4003) location.assign("/?next=/console");
  else desk.socket.connect();
});
desk.socket.connect();

setInterval(() => {
  tickChats();
  renderState();
  if (status.state === "waiting") renderConn();
}, 1000);
setInterval(tickOffer, 250);

document.addEventListener("desk:transfer", (ev) => openTransfer(ev.detail));
document.addEventListener("desk:end", (ev) => openEnd(ev.detail));
addEventListener("beforeunload", save);

// Keyboard: single keys act when no text box has the focus (as in a mail
// client); Esc leaves a text box. Codes, not keys, so that the Korean
// keyboard layout (where A types ㅁ) works the same.
function typing(el) {
  return el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || (el.tagName === "INPUT" && !["radio", "checkbox", "button"].includes(el.type)));
}
document.addEventListener("keydown", (ev) => {
  if (document.querySelector("dialog[open]")) return;
  if (ev.key === "Escape" && typing(document.activeElement)) {
    ev.preventDefault();
    if (offerShown()) $("#offer-accept").focus();
    else activeChat()?.tab.focus();
    return;
  }
  if (typing(document.activeElement) || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  const chat = activeChat();
  const act = {
    KeyA: () => offerShown() && acceptOffer(),
    KeyD: () => offerShown() && declineOffer(),
    KeyT: () => chat && openTransfer(chat.contact.contact_id),
    KeyE: () => chat && openEnd(chat.contact.contact_id),
    KeyI: () => chat && openInterpret(chat.contact.contact_id),
    KeyN: () => chat && chat.status !== "ended" && chat.noteBox.focus(),
    BracketLeft: () => moveTab(-1),
    BracketRight: () => moveTab(1),
  }[ev.code];
  const digit = /^Digit([1-9])$/.exec(ev.code);
  if (act) {
    ev.preventDefault();
    act();
  } else if (digit && desk.order[digit[1] - 1]) {
    ev.preventDefault();
    selectChat(desk.order[digit[1] - 1], true);
  }
});

onLangChange(() => {
  renderState();
  renderConn();
  renderOffer();
  for (const c of desk.chats.values()) redrawChat(c);
});
