// The frame around every logged-in console: who is here, where they may
// go, the language switch and logging out.
import { apply, bindLangSelect, onLangChange, t } from "/static/i18n.js";
import { api, logout, requireUser } from "/static/api.js";
import { $, h } from "/static/ui.js";

const pagesOf = {
  agent: ["/console"],
  supervisor: ["/supervisor", "/admin"],
  admin: ["/supervisor", "/admin"],
};

const pageKey = { "/console": "nav.console", "/supervisor": "nav.supervisor", "/admin": "nav.admin", "/status": "nav.status" };

function drawNav(user) {
  const nav = $("#nav");
  if (!nav) return;
  nav.replaceChildren();
  for (const path of [...(pagesOf[user.role] || []), "/status"]) {
    const a = h("a", { href: path, text: t(pageKey[path]) });
    if (path === location.pathname) a.setAttribute("aria-current", "page");
    nav.append(h("li", null, a));
  }
}

let agencyName = "";

function drawWho(user) {
  const who = $("#who");
  if (!who) return;
  // A supervisor's name often holds the agency's already.
  const agency = user.agency && !user.name.includes(agencyName || user.agency) ? " · " + (agencyName || user.agency) : "";
  who.textContent = `${user.name} · ${t("role." + user.role)}${agency}`;
}

// startShell checks the login (sending others to the login page) and
// returns the user.
export async function startShell(roles) {
  apply();
  bindLangSelect($("#lang"));
  const user = await requireUser(roles);
  drawNav(user);
  drawWho(user);
  if (user.agency) {
    api("GET", "/v1/agencies/" + encodeURIComponent(user.agency)).then((a) => {
      agencyName = a.name;
      drawWho(user);
    }, () => {});
  }
  onLangChange(() => {
    drawNav(user);
    drawWho(user);
  });
  $("#logout")?.addEventListener("click", logout);
  return user;
}
