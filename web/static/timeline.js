// How a case reads: who the caller is and what they already said, every
// leg with its agency and agent, and every event in order. The agent desk
// (offers and chats) and the supervisor's review draw cases with these.
import { t, has } from "/static/i18n.js";
import { h, clock, dateTime, duration } from "/static/ui.js";
import { agencyName, agentName, queueName, knownQueue, languageName, directory } from "/static/names.js";
import { api } from "/static/api.js";

function agencyOfAgent(u) {
  const a = directory.agents.find((x) => x.username === u);
  return a ? a.agency : "";
}

// who names the actor of an event ("agent:kim", "citizen:…", "router").
export function who(actor, cs) {
  const [role, name] = (actor || "").split(/:(.*)/s);
  if (role === "citizen") return (cs && cs.caller && cs.caller.name) || t("case.citizen");
  if (role === "agent") {
    const agency = agencyOfAgent(name);
    return agency ? `${agentName(name)} · ${agencyName(agency)}` : agentName(name);
  }
  if (role === "gateway") return t("case.gateway");
  return t("case.system");
}

export function dispositionText(d) {
  if (!d) return "";
  return has("disposition." + d) ? t("disposition." + d) : d;
}

// context lists what the caller told the menu or the widget before anyone
// answered.
export function contextFacts(contact, cs) {
  const dl = h("dl", { class: "facts" });
  const add = (k, v) => v && dl.append(h("dt", { text: t(k) }), h("dd", { text: v }));
  const caller = (contact && contact.caller) || (cs && cs.caller) || {};
  add("case.caller", caller.name || t("case.citizen_anon"));
  add("case.language", caller.language ? (has("lang." + caller.language) ? t("lang." + caller.language) : caller.language) : "");
  const ctx = (contact && contact.context) || {};
  add("case.summary", ctx.summary);
  if (ctx.ivr && ctx.ivr.length) add("case.ivr", ctx.ivr.join(" › "));
  for (const [k, v] of Object.entries(ctx.attributes || {})) add(k, v);
  return dl;
}

// legs lists the case's legs: agency, queue, agent, times, outcome.
export function legs(cs) {
  const ol = h("ol", { class: "legs" });
  for (const l of cs.legs || []) {
    const span = l.answered_at ? `${clock(l.answered_at)}–${l.ended_at ? clock(l.ended_at) : t("case.now")}` : t("case.not_answered");
    ol.append(
      h("li", { class: l.ended_at ? "leg done" : "leg live" },
        // An interpreters' queue may have no name here; its tag says enough.
        h("strong", { text: agencyName(l.agency) }), l.interpreter && !knownQueue(l.queue) ? null : [" · ", queueName(l.queue)],
        h("br"),
        h("span", { class: "muted", text: `${l.agent ? agentName(l.agent) : t("case.no_agent")} · ${span}` }),
        l.interpreter ? h("span", { class: "tag", text: t("case.interpreter_leg") }) : null,
        l.disposition ? h("span", { class: "tag", text: dispositionText(l.disposition) }) : null));
  }
  return ol;
}

// transferNote is the note the previous agent left, shown first.
export function transferNote(cs) {
  const n = cs.transfer_note;
  if (!n) return null;
  const d = n.data || {};
  if (n.type === "interpreter_requested") {
    return h("section", { class: "transfer-note", "aria-label": t("case.interpret_note") },
      h("h4", { text: t("case.interpret_note") }),
      h("p", { class: "meta", text: t("case.interpret_from", { who: who(n.actor, cs), language: languageName(d.language) }) }),
      h("p", { class: "note-text", text: n.text || t("case.no_note") }));
  }
  return h("section", { class: "transfer-note", "aria-label": t("case.transfer_note") },
    h("h4", { text: t("case.transfer_note") }),
    h("p", { class: "meta", text: t("case.transfer_from", {
      who: who(n.actor, cs), from: queueName(d.from_queue), mode: t("transfer.mode." + (d.mode || "cold")) }) }),
    h("p", { class: "note-text", text: n.text || t("case.no_note") }));
}

// eventItem draws one entry of the timeline; extra, when given, may add
// a part under it (the review's recording player).
export function eventItem(ev, cs, extra) {
  const d = ev.data || {};
  let kind = has("event." + ev.type) ? t("event." + ev.type) : ev.type;
  let text = ev.text || "";
  if (ev.type === "contact_created") kind = t("event.contact_created_in", { queue: queueName(d.queue) });
  if (ev.type === "transfer") {
    const to = d.to_agent ? agentName(d.to_agent) : queueName(d.to_queue);
    kind = t("event.transfer_to", { to, agency: agencyName((d.to_queue || "").split(".")[0]), mode: t("transfer.mode." + (d.mode || "cold")) });
  }
  if (ev.type === "ended" && d.disposition) kind += ` · ${dispositionText(d.disposition)}`;
  if (ev.type === "interpreter_requested") kind = t("event.interpreter_requested_in", { language: languageName(d.language) });
  if (ev.type === "interpreter") kind = t(d.state === "joined" ? "event.interpreter_joined" : "event.interpreter_left", { name: d.name || "" });
  if (ev.type === "callback_requested") kind = d.mode === "slot" ? t("event.callback_slot", { time: dateTime(d.callback_at) }) : t("event.callback_keep_place");
  if (ev.type === "callback_attempt") kind = t("event.callback_attempt_n", { n: d.attempt || "", result: has("cb.result." + d.result) ? t("cb.result." + d.result) : d.result || "" });
  if (ev.type === "recording") {
    kind = t("event.recording_of", { seconds: d.seconds || "0" });
    text = d.file || "";
  }
  if (ev.type === "ended" && d.reason === "agent_hangup") kind += ` · ${t("event.agent_hangup")}`;
  if (ev.type === "transfer_failed") text = has("transfer.failed." + text) ? t("transfer.failed." + text) : text;
  return h("li", { class: "ev ev-" + ev.type },
    h("span", { class: "ev-head" },
      h("time", { datetime: ev.at || "", text: clock(ev.at) }),
      h("span", { class: "ev-kind", text: kind }),
      h("span", { class: "ev-who", text: who(ev.actor, cs) })),
    text ? h("p", { class: "ev-text", text }) : null,
    extra ? extra(ev) : null);
}

export function timeline(cs, extra) {
  const ol = h("ol", { class: "timeline" });
  for (const ev of cs.events || []) ol.append(eventItem(ev, cs, extra));
  return ol;
}

// caseAge is how long the citizen has been waiting or talking, counted
// from the case's start: a transfer keeps the case's age.
export function caseAge(cs, nowMs) {
  return cs.created_at ? duration((nowMs - Date.parse(cs.created_at)) / 1000) : "";
}

// earlierCases lists a returning caller's earlier cases (the offer's
// history): dates, agencies, outcomes, summary and last note. Each opens
// the whole case on demand through GET /v1/cases/{id}, a read the server
// audits; nothing is fetched until the agent asks.
export function earlierCases(history) {
  if (!history || !history.length) return null;
  const ol = h("ol", { class: "earlier" });
  for (const p of history) {
    const body = h("div", { class: "earlier-case" });
    // The summary and the last note are what the agent reads at a glance;
    // the whole case opens on demand.
    const details = h("details", { class: "earlier-item" }, h("summary", { text: t("case.earlier_open") }), body);
    details.addEventListener("toggle", async () => {
      if (!details.open || details.dataset.loaded) return;
      details.dataset.loaded = "1";
      body.replaceChildren(h("p", { class: "muted", text: t("case.earlier_loading") }));
      try {
        const c = await api("GET", "/v1/cases/" + encodeURIComponent(p.case_id));
        body.replaceChildren(h("h4", { text: t("case.legs") }), legs(c), h("h4", { text: t("case.timeline") }), timeline(c));
      } catch (e) {
        delete details.dataset.loaded;
        body.replaceChildren(h("p", { class: "error", role: "alert", text: e.message || t("error.generic") }));
      }
    });
    ol.append(h("li", { class: "earlier-entry", "data-case": p.case_id },
      h("p", { class: "earlier-head" },
        h("strong", { text: `${dateTime(p.opened_at)} – ${dateTime(p.closed_at)}` }), " · ",
        (p.agencies || []).map(agencyName).join(", "), " ",
        (p.dispositions || []).map((d) => h("span", { class: "tag", text: dispositionText(d) }))),
      p.summary ? h("p", { class: "earlier-summary", text: p.summary }) : null,
      p.last_note ? h("p", { class: "earlier-note" }, h("span", { class: "muted", text: t("case.earlier_note") + " " }), p.last_note) : null,
      details));
  }
  return h("section", { class: "earlier-cases", "aria-label": t("case.earlier") }, h("h3", { text: t("case.earlier") }), ol);
}

// previousCase says which closed case a case continues, if it does.
export function previousCase(cs) {
  return cs && cs.previous_case_id ? h("p", { class: "previous-case muted", text: t("case.previous", { id: cs.previous_case_id }) }) : null;
}
