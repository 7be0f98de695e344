// The first page: log in, then go where the role works (or back to the
// page that sent us here); a logged-in visitor sees who they are.
import { apply, bindLangSelect, onLangChange, t } from "/static/i18n.js";
import { ApiError, api, currentUser, logout } from "/static/api.js";
import { $, h } from "/static/ui.js";

const home = { agent: "/console", supervisor: "/supervisor", admin: "/admin" };
const pages = { agent: ["/console"], supervisor: ["/supervisor", "/admin"], admin: ["/supervisor", "/admin"] };
let me = null;

// next is where to go after logging in: only a path on this server.
function next(user) {
  const n = new URLSearchParams(location.search).get("next") || "";
  if (/^\/[a-z]/.test(n) && !n.startsWith("//")) return n;
  return home[user.role] || "";
}

function render() {
  $("#login-view").hidden = !!me;
  $("#me-view").hidden = !me;
  if (!me) return;
  $("#me-name").textContent = me.name;
  $("#me-username").textContent = me.username;
  $("#me-role").textContent = t("role." + me.role);
  $("#me-agency").textContent = me.agency || t("me.central");
  $("#me-pages").replaceChildren(...(pages[me.role] || []).map((p) =>
    h("li", null, h("a", { class: "btn", href: p, text: t("nav." + p.slice(1)) }))));
}

function showError(key) {
  const el = $("#login-error");
  el.textContent = t(key);
  el.hidden = false;
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").hidden = true;
  const username = $("#username").value.trim();
  const password = $("#password").value;
  if (!username || !password) return showError("login.missing");
  try {
    const data = await api("POST", "/v1/sessions", { username, password });
    me = data.user;
    $("#password").value = "";
    const to = next(me);
    if (to) return location.assign(to);
    render();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    showError(e.status === 429 ? "login.limited" : e.code === "network" ? "error.network" : "login.failed");
  }
});

$("#logout").addEventListener("click", logout);
bindLangSelect($("#lang"));
onLangChange(render);
apply();
me = await currentUser().catch(() => null);
render();
// Only where nobody has started typing: the check above is a round trip,
// and a quick hand may be in the password field already.
if (!me && (!document.activeElement || document.activeElement === document.body)) $("#username").focus();
