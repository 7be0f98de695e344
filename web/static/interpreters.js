// Interpreters on the desk. An agent brings one into a chat or call
// (interpret), follows the request (requested, joined with a name, left)
// and lets them go (interpreter_release). An interpreter holds a leg of
// their own: a contact whose conference_of names the contact it joins.
import { t } from "/static/i18n.js";
import { $, h, part, showFieldErrors, clearFieldErrors, announce } from "/static/ui.js";
import { agencyName, agentName, languageName, rememberAgent } from "/static/names.js";
import { desk, now, send } from "/static/desk.js";
import { legs } from "/static/timeline.js";

// The choices besides the caller's own language.
export const LANGUAGES = ["en", "zh", "vi", "ja", "ru", "th", "mn", "uz", "ne", "km"];

// A chat is an interpreter's own leg.
export const interpreting = (chat) => !!chat.contact.conference_of;

// canInterpret: only a citizen's chat or call takes an interpreter.
const canInterpret = (chat) => !interpreting(chat) && ["chat", "voice"].includes(chat.contact.channel);

// requestOf is the case entry that asked for interpreter leg legID.
export function requestOf(cs, legID) {
  const hit = (e) => e && e.type === "interpreter_requested" && (!legID || (e.data || {}).interpreter_contact_id === legID);
  return (cs.events || []).find(hit) || (hit(cs.transfer_note) ? cs.transfer_note : null);
}

// request describes an interpreter leg's request: the language, and the
// agency and agent who asked (the leg it joins).
export function request(contact, cs) {
  const req = requestOf(cs, contact.contact_id);
  const main = (cs.legs || []).find((l) => l.contact_id === contact.conference_of) || {};
  const [, asker] = ((req && req.actor) || "").split(/:(.*)/s);
  return {
    language: (req && req.data && req.data.language) || contact.caller.language || "",
    // An interpreter's view has no leg but their own: the request names
    // the asking agent's agency.
    agency: main.agency || (req && req.data && req.data.agency) || "",
    agent: main.agent || asker || "",
    note: (req && req.text) || "",
  };
}

// isInterpreter tells whether username speaks as the interpreter of chat.
export function isInterpreter(chat, username) {
  if (!username) return false;
  if (chat.interp && chat.interp.username === username) return true;
  return (chat.case.legs || []).some((l) => l.interpreter && l.agent === username);
}

// fromCase works out the interpreter of a chat the server (re)sent: the
// contact names its interpreter leg, the case's legs say who holds it.
export function interpFromCase(chat) {
  const c = chat.contact;
  if (!c.interpreter) return chat.interp && chat.interp.state === "left" ? chat.interp : null;
  const req = requestOf(chat.case, c.interpreter);
  const language = (req && req.data && req.data.language) || (chat.interp && chat.interp.language) || "";
  const leg = (chat.case.legs || []).find((l) => l.contact_id === c.interpreter);
  if (leg && leg.agent && !leg.ended_at) {
    return { state: "joined", leg: c.interpreter, username: leg.agent, name: agentName(leg.agent), language };
  }
  if (chat.interp && chat.interp.leg === c.interpreter && chat.interp.state === "joined") return chat.interp;
  return { state: "requested", leg: c.interpreter, language };
}

function interpText(chat) {
  if (interpreting(chat)) {
    const r = request(chat.contact, chat.case);
    return t("interp.you_interpret", { language: languageName(r.language), agent: agentName(r.agent), agency: agencyName(r.agency) });
  }
  const st = chat.interp;
  const language = languageName(st.language);
  if (st.state === "joined") return t("interp.joined", { name: st.name || agentName(st.username), language });
  if (st.state === "left") return t("interp.left", { name: st.name || agentName(st.username) || t("interp.someone") });
  return t("interp.requested", { language });
}

// renderInterp draws a chat's interpreter line and buttons.
export function renderInterp(chat) {
  const p = chat.panel, box = part(p, "interp");
  const ended = chat.status === "ended";
  const st = chat.interp;
  part(p, "interpret").hidden = !canInterpret(chat) || ended || (st && st.state !== "left");
  const show = interpreting(chat) || (canInterpret(chat) && !!st);
  box.hidden = !show;
  if (!show) return;
  box.className = "interp-box interp-" + (interpreting(chat) ? "mine" : st.state);
  part(p, "interp-text").textContent = interpText(chat);
  const rel = part(p, "interp-release");
  rel.hidden = interpreting(chat) || ended || st.state === "left";
  rel.textContent = t(st && st.state === "requested" ? "interp.cancel" : "interp.release");
}

// onInterpreterFrame follows interpreter {contact_id, state, …} frames.
export function onInterpreterFrame(f) {
  const chat = desk.chats.get(f.contact_id);
  if (!chat) return null;
  const was = chat.interp || {};
  if (f.interpreter && f.interpreter_name) rememberAgent(f.interpreter, f.interpreter_name);
  chat.interp = {
    state: f.state,
    leg: f.interpreter_contact_id || was.leg,
    username: f.interpreter || was.username || "",
    name: f.interpreter_name || (f.interpreter ? agentName(f.interpreter) : was.name || ""),
    language: f.language || was.language || "",
  };
  chat.contact.interpreter = f.state === "left" ? "" : chat.interp.leg;
  trackLeg(chat, f);
  part(chat.panel, "interp-error").hidden = true;
  renderInterp(chat);
  const words = interpText(chat);
  announce(words);
  return chat;
}

// trackLeg keeps the case's legs list in step with the interpreter's leg,
// as the server's case will show it: waiting, answered, ended.
function trackLeg(chat, f) {
  const cs = chat.case;
  if (!cs || !f.interpreter_contact_id) return;
  cs.legs = cs.legs || [];
  let leg = cs.legs.find((l) => l.contact_id === f.interpreter_contact_id);
  const at = new Date(now()).toISOString();
  if (!leg) {
    const queue = f.queue || "";
    leg = { contact_id: f.interpreter_contact_id, queue, agency: queue.split(".")[0], channel: chat.contact.channel,
      enqueued_at: at, interpreter: true };
    cs.legs.push(leg);
  }
  if (f.state === "joined" && !leg.answered_at) Object.assign(leg, { agent: f.interpreter, answered_at: at });
  if (f.state === "left" && !leg.ended_at) leg.ended_at = at;
  part(chat.panel, "legs").replaceChildren(legs(cs));
}

// The dialog that asks for an interpreter.
let target = null;

export function openInterpret(contactID) {
  const chat = desk.chats.get(contactID);
  if (!chat || chat.status !== "live" || !canInterpret(chat) || (chat.interp && chat.interp.state !== "left")) return;
  target = chat;
  const form = $("#interpret-form");
  clearFieldErrors(form);
  const own = (chat.contact.caller.language || "").toLowerCase();
  const sel = $("#interpret-language");
  const options = [];
  // The caller's language comes first and is the default, unless it is
  // the desk's own Korean (then an interpreter is for another language).
  if (own && own !== "ko") options.push(h("option", { value: "", text: t("interp.callers_language", { language: languageName(own) }) }));
  for (const l of LANGUAGES) if (l !== own) options.push(h("option", { value: l, text: `${languageName(l)} (${l})` }));
  sel.replaceChildren(...options);
  sel.value = own && own !== "ko" ? "" : "en";
  $("#interpret-note").value = "";
  $("#interpret-share").checked = false; // need to know: sharing is the agent's choice
  $("#interpret-dialog").showModal();
  sel.focus();
}

$("#interpret-cancel").addEventListener("click", () => $("#interpret-dialog").close());
$("#interpret-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  clearFieldErrors(form);
  const chat = target;
  const language = $("#interpret-language").value;
  const button = $("#interpret-submit");
  button.disabled = true;
  try {
    await send({ type: "interpret", contact_id: chat.contact.contact_id, language, note: $("#interpret-note").value.trim(),
      share_history: $("#interpret-share").checked });
    $("#interpret-dialog").close();
    // The interpreter frame follows; until then the desk says it asked.
    if (!chat.interp || chat.interp.state === "left") {
      chat.interp = { state: "requested", language: language || chat.contact.caller.language || "" };
      renderInterp(chat);
    }
    announce(t("interp.sent"));
  } catch (e) {
    const field = ["language", "note"].includes(e.field) ? e.field : "";
    showFieldErrors(form, { field, message: e.code === "network" ? t("conn.not_sent") : e.code === "unavailable" ? t("interp.unavailable") : e.message });
  } finally {
    button.disabled = false;
  }
});

// wireInterp connects a chat tab's interpreter buttons.
export function wireInterp(chat) {
  const p = chat.panel, id = chat.contact.contact_id;
  part(p, "interpret").addEventListener("click", () => openInterpret(id));
  const release = part(p, "interp-release");
  release.addEventListener("click", async () => {
    const err = part(p, "interp-error");
    err.hidden = true;
    release.disabled = true;
    try {
      await send({ type: "interpreter_release", contact_id: id });
    } catch (e) {
      err.textContent = e.code === "network" ? t("conn.not_sent") : e.message || t("error.generic");
      err.hidden = false;
    } finally {
      release.disabled = false;
    }
  });
}
