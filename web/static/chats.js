// The desk's chats: one tab each, the conversation beside the case's whole
// timeline, private notes, and the wrap-up after the end.
import { t, apply } from "/static/i18n.js";
import { $, h, fill, part, clock, duration, announce } from "/static/ui.js";
import { agencyName, agentName, queueName, languageName } from "/static/names.js";
import { contextFacts, dispositionText, earlierCases, eventItem, legs, previousCase, who } from "/static/timeline.js";
import { desk, now, save, send, restored } from "/static/desk.js";
import { interpreting, isInterpreter, interpFromCase, renderInterp, request, wireInterp } from "/static/interpreters.js";
import { isCallback, renderCallback, wireCallback, RETRIED } from "/static/callbacks.js";

// A chat is {contact, case, status: live|warm|ended, endedReason,
// wrapEnd, tab, panel, sayBox, noteBox, unread, interp: {state, leg,
// username, name, language}, cbResult: {result, attempt}}.

// messageItem draws what belongs in the conversation: the citizen's and
// agents' words (of every leg), and a line where the case changed hands.
function messageItem(ev, chat) {
  const d = ev.data || {};
  const [role, name] = (ev.actor || "").split(/:(.*)/s);
  switch (ev.type) {
    case "contact_created":
      if (!ev.text) return null;
      return h("li", { class: "msg from-citizen" },
        h("p", { class: "msg-who" }, who(ev.actor, chat.case), " · ", h("span", { text: t("chat.first_words") }), " ", h("time", { text: clock(ev.at) })),
        h("p", { class: "msg-text", text: ev.text }));
    case "message":
    case "transcript": {
      const mine = role === "agent" && name === desk.me.username;
      const interp = role === "agent" && (d.from === "interpreter" || d.speaker === "interpreter" || isInterpreter(chat, name));
      const cls = role === "citizen" || d.speaker === "citizen" ? "from-citizen" : mine ? "from-me" : interp ? "from-agent from-interpreter" : "from-agent";
      const label = mine ? t("chat.me") : who(ev.actor, chat.case);
      return h("li", { class: "msg " + cls },
        h("p", { class: "msg-who" }, interp ? t("chat.interpreter_who", { who: label }) : label, " ", h("time", { text: clock(ev.at) })),
        h("p", { class: "msg-text", text: ev.text }));
    }
    case "interpreter": // a live change of the interpreter, drawn by the desk
      return h("li", { class: "divider interp", text: d.state === "joined"
        ? t("chat.interp_joined_line", { name: d.name, language: languageName(d.language), time: clock(ev.at) })
        : t("chat.interp_left_line", { name: d.name || t("interp.someone"), time: clock(ev.at) }) });
    case "interpreter_requested":
      return h("li", { class: "divider interp", text: t("chat.interp_requested_line", { who: who(ev.actor, chat.case), language: languageName(d.language), time: clock(ev.at) }) });
    case "assigned":
      return h("li", { class: "divider", text: t("chat.joined", { agent: who(ev.actor, chat.case), time: clock(ev.at) }) });
    case "transfer":
      // A second-line callback is filed as a transfer in callback mode.
      return h("li", { class: "divider transfer", text: t(d.mode === "callback" ? "chat.callback_filed_line" : "chat.transferred_line", {
        agent: who(ev.actor, chat.case), to: d.to_agent ? agentName(d.to_agent) : `${agencyName((d.to_queue || "").split(".")[0])} · ${queueName(d.to_queue)}` }) });
    case "ended":
      return h("li", { class: "divider", text: t("chat.ended_line", { result: dispositionText(d.disposition) }) });
  }
  return null;
}

function tabLabel(chat) {
  const c = chat.contact;
  return `${c.caller.name || t("case.citizen_anon")} · ${interpreting(chat) ? t("interp.tab") : t("channel." + c.channel)}`;
}

// i18nText sets an element's words by key, so that a language switch
// (which re-applies data-i18n) keeps them.
function i18nText(el, key) {
  el.dataset.i18n = key;
  el.textContent = t(key);
}

function renderHead(chat) {
  const c = chat.contact, p = chat.panel;
  const caller = c.caller.name || t("case.citizen_anon");
  if (interpreting(chat)) {
    const r = request(c, chat.case);
    part(p, "title").textContent = t("interp.tab_title", { caller });
    part(p, "meta").textContent = `${languageName(r.language)} · ${agencyName(r.agency)} · ${agentName(r.agent)}`;
  } else {
    part(p, "title").textContent = caller;
    part(p, "meta").textContent = `${agencyName(c.agency)} · ${queueName(c.queue)} · ${t("channel." + c.channel)}`;
  }
  const ended = chat.status === "ended";
  part(p, "actions").hidden = ended;
  part(p, "transfer").hidden = interpreting(chat);
  i18nText(part(p, "end-label"), interpreting(chat) ? "interp.leave" : "chat.end");
  i18nText(part(p, "say-label"), interpreting(chat) ? "interp.say" : "chat.say");
  part(p, "close").hidden = !ended;
  // A callback is a phone call: nothing to type to the citizen.
  part(p, "composer").hidden = ended || isCallback(chat);
  renderInterp(chat);
  renderCallback(chat);
  chat.tab.querySelector(".tab-name").textContent = tabLabel(chat);
  chat.tab.querySelector(".tab-badge").textContent = ended ? t("chat.tab_ended") : chat.unread ? t("chat.tab_new", { n: chat.unread }) : "";
  chat.tab.classList.toggle("ended", ended);
  renderStatus(chat);
}

// renderStatus writes the line under the title; it also runs every second
// for the timers.
function renderStatus(chat) {
  const el = part(chat.panel, "status");
  const c = chat.contact;
  let s = "";
  if (chat.status === "live") {
    // A callback is a call the agent is placing, not yet a conversation.
    s = t(isCallback(chat) ? "cb.status_live" : "chat.status_live", { time: c.answered_at ? duration((now() - Date.parse(c.answered_at)) / 1000) : "0:00" });
  } else if (chat.status === "warm") {
    s = t("chat.status_warm");
  } else {
    const special = ["transferred", "abandoned", "requeued", "lost", "callback_filed", "interpreter_released", "contact_ended"];
    const reason = special.includes(chat.endedReason) ? t("chat.status_" + chat.endedReason)
      : RETRIED.includes(chat.endedReason) ? t("cb.will_retry", { result: t("cb.result." + chat.endedReason) })
        : t("chat.status_ended", { result: dispositionText(chat.endedReason) });
    const left = chat.wrapEnd ? Math.ceil((chat.wrapEnd - now()) / 1000) : 0;
    s = left > 0 ? `${reason} · ${t("chat.wrapup", { time: duration(left) })}` : reason;
  }
  if (chat.notice) s += ` — ${chat.notice}`;
  if (el.textContent !== s) el.textContent = s;
}

function renderCase(chat) {
  const p = chat.panel, cs = chat.case;
  const msgs = part(p, "messages");
  msgs.replaceChildren(...cs.events.map((ev) => messageItem(ev, chat)).filter(Boolean));
  msgs.scrollTop = msgs.scrollHeight;
  part(p, "context").replaceChildren(contextFacts(chat.contact, cs), previousCase(cs) || "");
  part(p, "history").replaceChildren(earlierCases(cs.history) || "");
  part(p, "legs").replaceChildren(legs(cs));
  const tl = h("ol", { class: "timeline" }, cs.events.map((ev) => eventItem(ev, cs)));
  part(p, "timeline").replaceChildren(tl);
}

function makeChat(contact, cs) {
  const id = contact.contact_id;
  const panel = fill("tab-template");
  apply(panel); // a template's words are not in the document yet
  panel.id = "panel-" + id;
  panel.setAttribute("aria-labelledby", "tab-" + id);
  panel.hidden = true;
  const tab = h("button", { type: "button", role: "tab", id: "tab-" + id, class: "tab", "aria-controls": panel.id, "aria-selected": "false", tabindex: "-1",
    onclick: () => selectChat(id, true) },
  h("span", { class: "tab-name" }), h("span", { class: "tab-badge" }));
  const chat = { contact, case: cs, status: "live", tab, panel, unread: 0, notice: "",
    sayBox: part(panel, "say"), noteBox: part(panel, "note") };
  // Unique ids tie the labels to their boxes.
  chat.sayBox.id = "say-" + id;
  part(panel, "say-label").htmlFor = chat.sayBox.id;
  chat.noteBox.id = "note-" + id;
  part(panel, "note-label").htmlFor = chat.noteBox.id;
  const kept = restored();
  chat.sayBox.value = (kept.drafts || {})[id] || "";
  chat.noteBox.value = (kept.notes || {})[id] || "";
  wire(chat);
  wireInterp(chat);
  wireCallback(chat);
  $("#tabs").append(tab);
  $("#panels").append(panel);
  desk.chats.set(id, chat);
  desk.order.push(id);
  return chat;
}

function wire(chat) {
  const p = chat.panel, id = chat.contact.contact_id;
  const sayErr = part(p, "say-error"), noteErr = part(p, "note-error");
  const failed = (box, e) => {
    box.textContent = e.code === "network" ? t("conn.not_sent") : e.message || t("error.generic");
    box.hidden = false;
  };
  part(p, "composer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = chat.sayBox.value.trim();
    if (!text) return;
    sayErr.hidden = true;
    try {
      await send({ type: "say", contact_id: id, text });
      chat.sayBox.value = "";
      save();
    } catch (e) {
      failed(sayErr, e);
    }
  });
  chat.sayBox.addEventListener("keydown", (ev) => {
    // Enter sends; Shift+Enter breaks the line. While a Korean syllable is
    // still being composed, Enter belongs to the input method.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      part(p, "composer").requestSubmit();
    }
  });
  part(p, "note-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = chat.noteBox.value.trim();
    if (!text) return;
    noteErr.hidden = true;
    try {
      await send({ type: "note", case_id: chat.case.case_id, text });
      chat.noteBox.value = "";
      save();
    } catch (e) {
      failed(noteErr, e);
    }
  });
  for (const box of [chat.sayBox, chat.noteBox]) box.addEventListener("input", save);
  part(p, "transfer").addEventListener("click", () => document.dispatchEvent(new CustomEvent("desk:transfer", { detail: id })));
  part(p, "end").addEventListener("click", () => document.dispatchEvent(new CustomEvent("desk:end", { detail: id })));
  part(p, "close").addEventListener("click", () => removeChat(id));
}

// upsertChat shows a contact the agent holds (from hello or assigned).
export function upsertChat(contact, cs) {
  let chat = desk.chats.get(contact.contact_id);
  if (!chat) chat = makeChat(contact, cs);
  chat.contact = contact;
  chat.case = cs;
  if (chat.status === "ended") chat.status = "live";
  chat.interp = interpFromCase(chat);
  renderCase(chat);
  renderHead(chat);
  showEmpty();
  return chat;
}

// appendEvent adds a live event (message, note, transcript) to its chats.
export function appendEvent(caseID, contactID, ev) {
  for (const chat of desk.chats.values()) {
    if (chat.case.case_id !== caseID && chat.contact.contact_id !== contactID) continue;
    chat.case.events.push(ev);
    const m = messageItem(ev, chat);
    const msgs = part(chat.panel, "messages");
    if (m) {
      const atEnd = msgs.scrollHeight - msgs.scrollTop - msgs.clientHeight < 40;
      msgs.append(m);
      if (atEnd) msgs.scrollTop = msgs.scrollHeight;
    }
    part(chat.panel, "timeline").querySelector("ol").append(eventItem(ev, chat.case));
    const [role] = (ev.actor || "").split(":");
    if (desk.active !== chat.contact.contact_id && ev.type === "message" && role === "citizen") {
      chat.unread++;
      renderHead(chat);
      announce(t("chat.new_message", { caller: chat.contact.caller.name || t("case.citizen_anon") }));
    }
  }
}

// endChat marks a chat over and starts its wrap-up countdown; the tab
// closes itself when the wrap-up is done.
export function endChat(contactID, reason) {
  const chat = desk.chats.get(contactID);
  if (!chat) return;
  chat.status = "ended";
  chat.endedReason = reason;
  // The leg's end, as the timeline will have it, without waiting for a
  // case the server no longer sends to this desk.
  const leg = (chat.case.legs || []).find((l) => l.contact_id === contactID);
  if (leg && !leg.ended_at) {
    leg.ended_at = new Date(now()).toISOString();
    leg.disposition = reason;
    part(chat.panel, "legs").replaceChildren(legs(chat.case));
  }
  const secs = desk.wrapup.has(chat.contact.queue) ? desk.wrapup.get(chat.contact.queue) : 10;
  chat.wrapEnd = now() + secs * 1000;
  chat.notice = "";
  renderHead(chat);
  announce(part(chat.panel, "status").textContent);
}

// redrawChat draws a chat again (after the language changed).
export function redrawChat(chat) {
  renderCase(chat);
  renderHead(chat);
}

export function setChatStatus(contactID, status, notice) {
  const chat = desk.chats.get(contactID);
  if (!chat) return;
  chat.status = status;
  chat.notice = notice || "";
  renderHead(chat);
}

export function removeChat(id) {
  const chat = desk.chats.get(id);
  if (!chat) return;
  const i = desk.order.indexOf(id);
  chat.tab.remove();
  chat.panel.remove();
  desk.chats.delete(id);
  desk.order.splice(i, 1);
  if (desk.active === id) {
    desk.active = null;
    const next = desk.order[Math.min(i, desk.order.length - 1)];
    if (next) selectChat(next, true);
    else $("#work").focus();
  }
  showEmpty();
  save();
}

// selectChat brings a tab to the front; focus puts the cursor in its box.
export function selectChat(id, focus) {
  const chat = desk.chats.get(id);
  if (!chat) return;
  for (const [cid, c] of desk.chats) {
    const on = cid === id;
    c.tab.setAttribute("aria-selected", on ? "true" : "false");
    c.tab.tabIndex = on ? 0 : -1;
    c.panel.hidden = !on;
  }
  desk.active = id;
  chat.unread = 0;
  renderHead(chat);
  const msgs = part(chat.panel, "messages");
  msgs.scrollTop = msgs.scrollHeight;
  if (focus) (chat.status === "ended" ? chat.tab : chat.sayBox).focus();
  save();
}

export function moveTab(step) {
  if (!desk.order.length) return;
  const i = desk.order.indexOf(desk.active);
  const next = desk.order[(i + step + desk.order.length) % desk.order.length];
  selectChat(next, false);
  desk.chats.get(next).tab.focus();
}

export function activeChat() {
  return desk.active ? desk.chats.get(desk.active) : null;
}

function showEmpty() {
  $("#empty").hidden = desk.chats.size > 0;
  $("#tabs").hidden = desk.chats.size === 0;
}

// tickChats runs every second: timers, and tabs whose wrap-up is over.
export function tickChats() {
  for (const chat of [...desk.chats.values()]) {
    if (chat.status === "ended" && chat.wrapEnd && now() >= chat.wrapEnd + 1500) {
      removeChat(chat.contact.contact_id);
      continue;
    }
    renderStatus(chat);
  }
}

// Arrow keys move along the tab list, as the ARIA tabs pattern has it.
$("#tabs").addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
    ev.preventDefault();
    moveTab(ev.key === "ArrowRight" ? 1 : -1);
  }
});
