// Display names for the ids in cases (agencies, queues, agents), read once
// from GET /v1/transfer-targets. Unknown ids show as themselves.
import { api } from "/static/api.js";
import { t, has, currentLang } from "/static/i18n.js";

export const directory = { agencies: [], queues: [], agents: [] };
const agencyNames = new Map(), queueNames = new Map(), agentNames = new Map();

export async function loadNames() {
  try {
    Object.assign(directory, await api("GET", "/v1/transfer-targets"));
  } catch {
    return; // names are a comfort: ids still read
  }
  for (const a of directory.agencies) agencyNames.set(a.id, a.name);
  for (const q of directory.queues) queueNames.set(q.id, q.name);
  for (const a of directory.agents) agentNames.set(a.username, a.name);
}

// rememberQueue adds a queue's name learnt elsewhere (the agency's own
// queues, which include some no one transfers to, such as interpreters').
export function rememberQueue(id, name) {
  if (id && name && !queueNames.has(id)) queueNames.set(id, name);
}

// knownQueue tells whether a queue has a name to show.
export const knownQueue = (id) => queueNames.has(id);

// rememberAgent adds a name learnt elsewhere (the agent's own, from hello).
export function rememberAgent(username, name) {
  if (username && name) agentNames.set(username, name);
}

export const agencyName = (id) => agencyNames.get(id) || id || "";
export const queueName = (id) => queueNames.get(id) || id || "";
export const agentName = (u) => agentNames.get(u) || u || "";

// languageName names a language tag (vi, zh-Hant) in the reader's
// language: from the catalogue, else as the browser knows it.
export function languageName(tag) {
  if (!tag) return "";
  const key = "lang." + tag.toLowerCase();
  if (has(key)) return t(key);
  try {
    return new Intl.DisplayNames([currentLang()], { type: "language" }).of(tag) || tag;
  } catch {
    return tag;
  }
}
