// The agent desk's state, shared by its modules. The server's hello is the
// truth about offers and chats; what only the browser knows (the tab in
// front, unsent drafts, the chosen break reason) is kept in sessionStorage
// so that a reload puts the desk back exactly as it was.
import { serverOffset } from "/static/api.js";

export const desk = {
  socket: null,
  me: null, // {username, name, agency, state, reason, max_chats}
  state: "offline", // as the server displays it
  reason: "",
  chosen: "", // the state the agent picked (busy and wrapup hide it)
  offers: [], // offer frames, oldest first
  chats: new Map(), // contact_id → chat
  order: [], // contact ids in tab order
  active: null,
  wrapup: new Map(), // queue id → wrap-up seconds, for the agency's queues
};

export const now = () => Date.now() + serverOffset;

const KEY = "tellonce.desk";

export function restored() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || {};
  } catch {
    return {};
  }
}

// save remembers the desk's local state; the modules call it after a change.
export function save() {
  const s = { active: desk.active, chosen: desk.chosen, drafts: {}, notes: {} };
  for (const [id, c] of desk.chats) {
    if (c.sayBox && c.sayBox.value) s.drafts[id] = c.sayBox.value;
    if (c.noteBox && c.noteBox.value) s.notes[id] = c.noteBox.value;
  }
  try {
    sessionStorage.setItem(KEY, JSON.stringify(s));
  } catch {
    // storage full or off: the desk still works, it just forgets drafts
  }
}

// send sends a frame and turns an error frame into a thrown value with the
// server's message.
export function send(frame) {
  return desk.socket.send(frame);
}
