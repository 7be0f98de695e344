// Callbacks on the desk: a contact whose channel is callback is a call the
// agent places. The tab shows the number and which attempt this is, and
// the agent reports how the call went (callback_result); the gateway may
// report it too. An unanswered call goes back to wait for a retry.
import { t } from "/static/i18n.js";
import { part, announce, phoneNumber } from "/static/ui.js";
import { desk, send } from "/static/desk.js";

export const isCallback = (chat) => chat.contact.channel === "callback" && !chat.contact.conference_of;

// RETRIED are the ends of a callback leg that the router tries again.
export const RETRIED = ["no_answer", "busy", "failed"];

function attempt(chat) {
  return (chat.cbResult && chat.cbResult.attempt) || (chat.contact.attempts || 0) + 1;
}

// renderCallback draws the number, the attempt and the result buttons.
export function renderCallback(chat) {
  const p = chat.panel, box = part(p, "callback");
  box.hidden = !isCallback(chat);
  if (box.hidden) return;
  part(p, "cb-number").textContent = chat.contact.callback_number ? phoneNumber(chat.contact.callback_number) : t("cb.no_number");
  part(p, "cb-attempt").textContent = t("cb.attempt_n", { n: attempt(chat) });
  const r = chat.cbResult;
  const ended = chat.status === "ended";
  part(p, "cb-actions").hidden = ended || (r && r.result === "answered");
  let s = t("cb.call_now");
  if (r) s = t("cb.result_line", { result: t("cb.result." + r.result), n: r.attempt });
  if (ended && RETRIED.includes(chat.endedReason)) s = t("cb.will_retry", { result: t("cb.result." + chat.endedReason) });
  part(p, "cb-status").textContent = s;
}

// onCallbackResult follows callback_result {contact_id, result, attempt}.
export function onCallbackResult(f) {
  const chat = desk.chats.get(f.contact_id);
  if (!chat) return;
  chat.cbResult = { result: f.result, attempt: Number(f.attempt) || attempt(chat) };
  renderCallback(chat);
  announce(part(chat.panel, "cb-status").textContent);
}

// wireCallback connects a tab's result buttons.
export function wireCallback(chat) {
  const p = chat.panel, id = chat.contact.contact_id;
  const buttons = [...part(p, "cb-actions").querySelectorAll("button[data-result]")];
  for (const b of buttons) {
    b.addEventListener("click", async () => {
      const err = part(p, "cb-error");
      err.hidden = true;
      buttons.forEach((x) => (x.disabled = true));
      try {
        await send({ type: "callback_result", contact_id: id, result: b.dataset.result });
      } catch (e) {
        err.textContent = e.code === "network" ? t("conn.not_sent") : e.message || t("error.generic");
        err.hidden = false;
      } finally {
        buttons.forEach((x) => (x.disabled = false));
      }
    });
  }
}
