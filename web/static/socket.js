// A WebSocket that comes back by itself. The server sends a full snapshot
// (hello, or the citizen's first frame) on every connect, so reconnecting
// is all it takes to restore a page. The first tries come quickly (0.25,
// 0.5, 1 s), then the waits grow to 2, 4, 8 and 15 s, each with ±20 %
// jitter, so a restarted server is not met by every console at once. A
// server that cannot serve the socket yet (a takeover under way: the
// leader's lease not yet run out, or the new leader restoring) closes it
// with 4503 and says when to try again; that wait is taken, with up to a
// quarter added, so desks come back just after the new leader is ready.

const delays = [250, 500, 1000, 2000, 4000, 8000, 15000];

// closeRetry is the close of a server that cannot serve yet; its reason is
// "unavailable; retry in N ms".
const closeRetry = 4503;

// hintedTries is how many such waits are taken as the server says; after
// them (a takeover should be long over) the waits grow as above again.
const hintedTries = 40;

// retryHint is the wait in ms a close asks for, or 0 for none.
export function retryHint(code, reason) {
  if (code !== closeRetry) return 0;
  const m = /retry in (\d+) ms/.exec(reason || "");
  return m ? Math.min(Math.max(Number(m[1]), 100), 30000) : 0;
}

export class Socket {
  // onFrame(frame) gets every server frame but acks; onStatus(status) gets
  // {state: "connecting"|"open"|"waiting"|"stopped", retryAt, code, reason}.
  constructor(path, { onFrame, onStatus, beforeConnect }) {
    this.path = path;
    this.onFrame = onFrame;
    this.onStatus = onStatus || (() => {});
    this.beforeConnect = beforeConnect;
    this.attempt = 0;
    this.hinted = 0;
    this.nextId = 1;
    this.waiting = new Map(); // id → {resolve, reject}
    this.stopped = false;
    this.timer = 0;
    addEventListener("online", () => this.retryNow());
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}${this.path}`;
  }

  async connect() {
    clearTimeout(this.timer);
    this.stopped = false;
    this.onStatus({ state: "connecting" });
    if (this.beforeConnect && !(await this.beforeConnect())) return;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => this.onStatus({ state: "open" });
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ws, ev);
  }

  // opened is called by the page once the snapshot frame arrived: only
  // then does the back-off start again from the shortest wait.
  opened() {
    this.attempt = 0;
    this.hinted = 0;
  }

  receive(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if ((f.type === "ack" || f.type === "error") && f.ref !== undefined && this.waiting.has(f.ref)) {
      const w = this.waiting.get(f.ref);
      this.waiting.delete(f.ref);
      if (f.type === "ack") w.resolve(f);
      else w.reject(f);
      return;
    }
    this.onFrame(f);
  }

  closed(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    for (const w of this.waiting.values()) w.reject({ code: "network", message: "connection lost" });
    this.waiting.clear();
    // 4001: another tab of this agent took over; 1008: the account is not
    // allowed; 4003: the login ended (logged out, expired, or the account
    // changed). None gets better by retrying on our own.
    if (this.stopped || ev.code === 4001 || ev.code === 1008 || ev.code === 4003 || ev.code === 1000) {
      this.stopped = true;
      this.onStatus({ state: "stopped", code: ev.code, reason: ev.reason });
      return;
    }
    const hint = retryHint(ev.code, ev.reason);
    let wait;
    if (hint && this.hinted < hintedTries) {
      this.hinted++;
      wait = Math.round(hint * (1 + Math.random() * 0.25));
    } else {
      const base = delays[Math.min(this.attempt, delays.length - 1)];
      this.attempt++;
      wait = Math.round(Math.max(base, hint) * (0.8 + Math.random() * 0.4));
    }
    this.onStatus({ state: "waiting", retryAt: Date.now() + wait, code: ev.code });
    this.timer = setTimeout(() => this.connect(), wait);
  }

  retryNow() {
    if (this.ws || this.stopped) return;
    this.connect();
  }

  get open() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // send delivers a frame with an id and resolves with the ack, or
  // rejects with the error frame ({code, message, field}).
  send(frame) {
    if (!this.open) return Promise.reject({ code: "network", message: "not connected" });
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }
}
