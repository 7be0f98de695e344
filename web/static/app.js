import { apply, currentLang, setLang, t } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
let me = null;

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  return { status: res.status, data };
}

function render() {
  $("login-view").hidden = !!me;
  $("me-view").hidden = !me;
  if (!me) return;
  $("me-name").textContent = me.name;
  $("me-username").textContent = me.username;
  $("me-role").textContent = t("role." + me.role);
  $("me-agency").textContent = me.agency || t("me.central");
}

async function loadMe() {
  try {
    const { status, data } = await api("GET", "/v1/sessions/current");
    me = status === 200 ? data.user : null;
  } catch {
    me = null;
  }
  render();
}

function showError(key) {
  const el = $("login-error");
  el.textContent = t(key);
  el.hidden = false;
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").hidden = true;
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) return showError("login.missing");
  try {
    const { status, data } = await api("POST", "/v1/sessions", { username, password });
    if (status === 201) {
      me = data.user;
      $("password").value = "";
      render();
    } else if (status === 429) {
      showError("login.limited");
    } else {
      showError("login.failed");
    }
  } catch {
    showError("error.network");
  }
});

$("logout").addEventListener("click", async () => {
  await api("DELETE", "/v1/sessions/current").catch(() => {});
  me = null;
  render();
});

$("lang").value = currentLang();
$("lang").addEventListener("change", (ev) => {
  setLang(ev.target.value);
  render();
});

apply();
loadMe();
