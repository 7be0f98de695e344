// An offer: the whole case first, so that the agent can greet the citizen
// without asking again; a sound and a visible countdown; accept and
// decline by mouse and by the A and D keys.
import { t } from "/static/i18n.js";
import { $, h, duration, announce, phoneNumber } from "/static/ui.js";
import { agencyName, agentName, queueName, languageName } from "/static/names.js";
import { contextFacts, earlierCases, legs, previousCase, timeline, transferNote } from "/static/timeline.js";
import { desk, now, send } from "/static/desk.js";
import { request } from "/static/interpreters.js";

let shown = ""; // the offer id on screen
let audio = null;

// The first user gesture unlocks audio; browsers refuse sound before one.
for (const ev of ["pointerdown", "keydown"]) {
  addEventListener(ev, () => {
    if (!audio && window.AudioContext) audio = new AudioContext();
    audio?.resume?.();
  }, { once: false, passive: true });
}

// chime plays two soft tones, made on the spot: no sound file to fetch.
function chime() {
  if (!audio || !$("#sound").checked) return;
  const t0 = audio.currentTime;
  for (const [i, f] of [660, 880].entries()) {
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, t0 + i * 0.18);
    g.gain.exponentialRampToValueAtTime(0.25, t0 + i * 0.18 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.18 + 0.3);
    o.connect(g).connect(audio.destination);
    o.start(t0 + i * 0.18);
    o.stop(t0 + i * 0.18 + 0.32);
  }
}

// The sound switch is remembered in this browser.
$("#sound").checked = localStorage.getItem("tellonce.sound") !== "off";
$("#sound").addEventListener("change", () => localStorage.setItem("tellonce.sound", $("#sound").checked ? "on" : "off"));

export function addOffer(f) {
  desk.offers = desk.offers.filter((o) => o.offer_id !== f.offer_id);
  desk.offers.push(f);
  renderOffer();
}

export function removeOffer(offerID, reason) {
  const had = desk.offers.some((o) => o.offer_id === offerID);
  desk.offers = desk.offers.filter((o) => o.offer_id !== offerID);
  if (had && reason === "offer_timeout") announce(t("offer.timed_out"));
  else if (had && reason && reason !== "declined" && reason !== "accepted") announce(t("offer.withdrawn"));
  renderOffer();
}

function current() {
  return desk.offers[0] || null;
}

// renderOffer draws the first pending offer, or hides the panel.
export function renderOffer() {
  const f = current();
  const panel = $("#offer");
  $("#offer-error").hidden = true;
  if (!f) {
    const hadFocus = panel.contains(document.activeElement);
    panel.hidden = true;
    shown = "";
    document.title = t("desk.title") + " · tellonce";
    if (hadFocus) $("#work").focus();
    document.dispatchEvent(new Event("desk:offers"));
    return;
  }
  const c = f.contact, cs = f.case;
  const caller = c.caller.name || t("case.citizen_anon");
  // An interpreter's offer joins another agent's contact: it says which
  // language, and who asked.
  const interp = c.conference_of ? request(c, cs) : null;
  const title = interp ? "offer.interpret_title" : c.channel === "callback" ? "offer.callback_title" : "offer.title";
  $("#offer-title").textContent = t(title, { caller });
  panel.classList.toggle("interpreting", !!interp);
  const meta = $("#offer-meta");
  meta.replaceChildren();
  const add = (k, v, id) => meta.append(h("dt", { text: t(k) }), h("dd", { text: v, id }));
  add("offer.channel", t("channel." + c.channel));
  if (interp) {
    add("offer.language", languageName(interp.language));
    add("offer.requested_by", `${agencyName(interp.agency)} · ${agentName(interp.agent)}`);
  } else {
    add("offer.queue", `${agencyName(c.agency)} · ${queueName(c.queue)}`);
  }
  if (c.channel === "callback" && c.callback_number) add("offer.number", phoneNumber(c.callback_number));
  if (c.attempts) add("offer.attempts", t("cb.attempt_n", { n: c.attempts + 1 }));
  add("offer.waited", "", "offer-waited");
  if ((cs.legs || []).length > 1) add("offer.case_age", "", "offer-age");
  const box = $("#offer-case");
  box.replaceChildren(
    transferNote(cs) || "",
    h("h3", { text: t("case.context") }), contextFacts(c, cs), previousCase(cs) || "",
    earlierCases(f.history) || "",
    h("h3", { text: t("case.legs") }), legs(cs),
    h("h3", { text: t("case.timeline") }), timeline(cs));
  $("#offer-more").textContent = desk.offers.length > 1 ? t("offer.more", { n: desk.offers.length - 1 }) : "";
  panel.hidden = false;
  tickOffer();
  document.dispatchEvent(new Event("desk:offers")); // a voice offer rings in the browser
  if (shown !== f.offer_id) {
    shown = f.offer_id;
    chime();
    announce(interp ? t("offer.interpret_announce", { language: languageName(interp.language), agency: agencyName(interp.agency) })
      : t("offer.announce", { caller, queue: queueName(c.queue) }));
    document.title = "● " + t("offer.short") + " · tellonce";
    // Take the focus only from nobody: an agent typing to a citizen keeps
    // typing, and Esc brings them here.
    const a = document.activeElement;
    if (!a || a === document.body || a.id === "work") $("#offer-accept").focus();
  }
}

// tickOffer moves the countdown; the router withdraws the offer at zero.
export function tickOffer() {
  const f = current();
  if (!f) return;
  const left = Math.max(0, (Date.parse(f.expires_at) - now()) / 1000);
  $("#offer-seconds").textContent = t("offer.seconds_left", { n: Math.ceil(left) });
  const total = Math.max(1, (Date.parse(f.expires_at) - f.receivedAt) / 1000);
  $("#offer-meter").style.width = `${Math.min(100, (left / total) * 100)}%`;
  $("#offer").classList.toggle("urgent", left <= 5);
  const waited = $("#offer-waited");
  if (waited && f.contact.enqueued_at) waited.textContent = duration((now() - Date.parse(f.contact.enqueued_at)) / 1000);
  const age = $("#offer-age");
  if (age && f.case.created_at) age.textContent = duration((now() - Date.parse(f.case.created_at)) / 1000);
}

async function answer(kind) {
  const f = current();
  if (!f) return;
  const buttons = [$("#offer-accept"), $("#offer-decline")];
  buttons.forEach((b) => (b.disabled = true));
  if (kind === "accept") document.dispatchEvent(new CustomEvent("desk:accepting", { detail: f.contact }));
  try {
    await send(kind === "accept" ? { type: "accept", offer_id: f.offer_id } : { type: "decline", offer_id: f.offer_id, reason: "" });
    if (kind === "decline") removeOffer(f.offer_id, "declined");
  } catch (e) {
    const err = $("#offer-error");
    err.textContent = e.code === "network" ? t("conn.not_sent") : e.message || t("error.generic");
    err.hidden = false;
    // The offer is gone on the server (taken, timed out): drop it here.
    if (e.code === "not_found" || e.code === "conflict") removeOffer(f.offer_id);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

export const acceptOffer = () => answer("accept");
export const declineOffer = () => answer("decline");
export const offerShown = () => !!current();

$("#offer-accept").addEventListener("click", acceptOffer);
$("#offer-decline").addEventListener("click", declineOffer);
