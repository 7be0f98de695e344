// A WebSocket that comes back by itself. The server sends a full snapshot
// (hello, or the citizen's first frame) on every connect, so reconnecting
// is all it takes to restore a page. Waits grow 1, 2, 4, 8, 15 s with
// jitter, so a restarted server is not met by every console at once.

const delays = [1000, 2000, 4000, 8000, 15000];

export class Socket {
  // onFrame(frame) gets every server frame but acks; onStatus(status) gets
  // {state: "connecting"|"open"|"waiting"|"stopped", retryAt, code, reason}.
  constructor(path, { onFrame, onStatus, beforeConnect }) {
    this.path = path;
    this.onFrame = onFrame;
    this.onStatus = onStatus || (() => {});
    this.beforeConnect = beforeConnect;
    this.attempt = 0;
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
    const base = delays[Math.min(this.attempt, delays.length - 1)];
    this.attempt++;
    const wait = Math.round(base * (0.8 + Math.random() * 0.4));
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
