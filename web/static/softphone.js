// The browser softphone: an agent without a desk phone (or who picks
// "browser") talks to callers from this page. The edge offers one WebRTC
// peer connection per call over the agent socket (rtc_offer); the page
// answers with every ICE candidate in its SDP (no trickling), plays the
// caller, and sends the microphone. Hold and keypad digits go to the edge
// as frames; mute only disables the microphone here. docs/protocol.md,
// "Softphone", is the contract.
import { t, onLangChange } from "/static/i18n.js";
import { $, announce } from "/static/ui.js";
import { api } from "/static/api.js";
import { desk, send } from "/static/desk.js";

const VOICE = ["voice", "callback"];
const KEY = "tellonce.voice."; // + username: "browser" or "phone", this browser's choice
const LIVE = "tellonce.softphone"; // sessionStorage: calls this tab carried, for a reload

const sp = {
  want: "", // the agent's choice in this browser: "browser" | "phone"
  phone: undefined, // whether the agent's user has a desk phone (sip_uri); undefined until known
  on: false, // this socket holds the agent's softphone (the server said yes)
  busy: false, // another tab of the agent holds a call; this one waits for the agent's word
  moved: false, // the call went to another tab
  iceServers: [],
  calls: new Map(), // contact_id → call
  mic: null, // the microphone's MediaStream while a call needs it
  micError: "",
  muted: false,
  ctx: null, // AudioContext: ringing and level meters
  ringing: false,
  ringTimer: 0,
};

// A call is {id, pc, session, state, held, remote (MediaStream),
// analyser: {mic, caller}}.

export function isCall(contact) {
  return !!contact && VOICE.includes(contact.channel);
}

function carried() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(LIVE)) || []);
  } catch {
    return new Set();
  }
}

function remember() {
  try {
    sessionStorage.setItem(LIVE, JSON.stringify([...sp.calls.keys()]));
  } catch {
    // without storage a reload asks for a fresh offer all the same
  }
}

// The first user gesture unlocks audio; browsers refuse sound before one.
function audioCtx() {
  if (!sp.ctx && window.AudioContext) sp.ctx = new AudioContext();
  return sp.ctx;
}
for (const ev of ["pointerdown", "keydown"]) addEventListener(ev, () => audioCtx()?.resume?.(), { passive: true });

// ---- the device switch ----------------------------------------------

// hasPhone says whether the agent's user has a desk phone (a sip_uri in
// their own user record); undefined when it could not be read.
function hasPhone() {
  return sp.phone;
}

async function learnPhone() {
  if (sp.phone !== undefined || !desk.me) return;
  try {
    const u = await api("GET", "/v1/users/" + encodeURIComponent(desk.me.username));
    sp.phone = !!u.sip_uri;
  } catch {
    // unknown: the agent's own choice, else the browser
  }
}

// chosen is the device the desk uses: the agent's choice in this browser,
// else the desk phone if they have one. Without one the browser is the
// only way to talk.
function chosen() {
  const saved = desk.me && localStorage.getItem(KEY + desk.me.username);
  if (hasPhone() === false) return "browser";
  if (saved === "browser" || saved === "phone") return saved;
  return hasPhone() ? "phone" : "browser";
}

for (const r of document.querySelectorAll("input[name=device]")) {
  r.addEventListener("change", () => {
    if (!r.checked || !desk.me) return;
    localStorage.setItem(KEY + desk.me.username, r.value);
    sp.want = r.value;
    claim(false);
  });
}

// claim tells the server whether this desk takes voice; take moves a call
// from another tab here.
async function claim(take) {
  const on = sp.want === "browser";
  sp.busy = false;
  try {
    await send(take ? { type: "softphone", on, take: true } : { type: "softphone", on });
    sp.on = on;
    sp.moved = false;
    // A take has the server ask the edge for an offer to this tab; after a
    // reload or a reconnect the desk asks itself.
    if (on && !take) restartCalls();
    else if (!on) dropAll();
  } catch (e) {
    sp.on = false;
    if (e.code === "softphone_busy") {
      sp.busy = true;
      askTake();
    }
  }
  render();
}

// restartCalls asks the edge for a fresh offer for each live call of
// this agent: after a reload or a dropped connection the edge holds the
// caller (with hold audio) until the page asks, within the grace.
function restartCalls() {
  const mine = carried();
  for (const [id, c] of desk.chats) {
    if (c.status === "ended" || !isCall(c.contact)) continue;
    if (!mine.has(id) && !sp.calls.has(id)) continue;
    send({ type: "rtc_restart", contact_id: id }).catch(() => {});
  }
}

// onHello learns the ICE servers and says again that this desk takes
// voice: the server forgets it when the socket goes.
export async function onHello(f) {
  await learnPhone();
  sp.iceServers = usable(f.ice_servers);
  sp.want = chosen();
  for (const r of document.querySelectorAll("input[name=device]")) r.checked = r.value === sp.want;
  $("#dev-phone").disabled = hasPhone() === false;
  $("#device").hidden = false;
  // A call this tab carried before a reload is found again by its id.
  for (const id of carried()) if (!desk.chats.has(id)) forget(id);
  if (sp.want === "browser") claim(false);
  else {
    sp.on = false;
    render();
  }
}

// ---- the move-to-this-tab prompt --------------------------------------

function askTake() {
  const d = $("#take-dialog");
  if (d.open) return;
  d.showModal();
}
$("#take-yes").addEventListener("click", () => {
  $("#take-dialog").close();
  claim(true);
});
$("#take-no").addEventListener("click", () => {
  $("#take-dialog").close();
  render();
});
$("#sp-take").addEventListener("click", () => claim(true));

// ---- frames from the server -------------------------------------------

export function onFrame(f) {
  switch (f.type) {
    case "rtc_offer":
      answer(f);
      return true;
    case "rtc_state": {
      const call = sp.calls.get(f.contact_id);
      if (call) call.edgeState = f.state;
      render();
      return true;
    }
    case "softphone_moved":
      sp.on = false;
      sp.moved = true;
      dropAll();
      announce(t("sp.moved"));
      render();
      return true;
  }
  return false;
}

// The socket dropped: the edge holds the caller until the page asks again
// after hello; the peer connection may live on meanwhile.
export function onDisconnected() {
  sp.on = false;
  render();
}

// A call ended (the caller hung up, the agent ended it, a transfer).
export function callEnded(contactID) {
  forget(contactID);
  render();
}

// ---- WebRTC -------------------------------------------------------------

async function microphone() {
  if (sp.mic && sp.mic.getAudioTracks().some((tr) => tr.readyState === "live")) return sp.mic;
  try {
    sp.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    sp.micError = "";
    for (const tr of sp.mic.getAudioTracks()) tr.enabled = !sp.muted;
  } catch (e) {
    sp.mic = null;
    sp.micError = e && (e.name === "NotAllowedError" || e.name === "SecurityError") ? "refused" : "missing";
    announce(t("sp.mic_" + sp.micError));
  }
  render();
  return sp.mic;
}

// answer answers the edge's offer; a newer offer for the same call
// replaces the peer connection (a restart, a transfer's re-bridge). The
// offer says whether the call is on hold (a reload during hold).
async function answer(f) {
  if (!sp.on) return;
  const old = sp.calls.get(f.contact_id);
  if (old) old.pc.close();
  // With short-lived TURN credentials each offer brings fresh ones:
  // hello's may have expired by now.
  const pc = new RTCPeerConnection({ iceServers: f.ice_servers ? usable(f.ice_servers) : sp.iceServers });
  const call = { id: f.contact_id, pc, session: f.session, state: "new", edgeState: "", held: f.held === true, remote: null, meters: {} };
  sp.calls.set(f.contact_id, call);
  remember();
  render();
  pc.onconnectionstatechange = () => {
    call.state = pc.connectionState;
    // A tab whose desk another tab replaced (or that stopped for good)
    // keeps the call until the edge moves it away; then it lets go.
    const gone = call.state === "failed" || call.state === "closed" || call.state === "disconnected";
    if (gone && desk.socket.stopped && sp.calls.get(call.id) === call) forget(call.id);
    // A peer that failed under a live desk: ask the edge to start again.
    else if (call.state === "failed" && sp.on && sp.calls.get(call.id) === call) send({ type: "rtc_restart", contact_id: call.id }).catch(() => {});
    render();
  };
  pc.ontrack = (ev) => {
    call.remote = ev.streams[0] || new MediaStream([ev.track]);
    const el = $("#sp-audio");
    el.srcObject = call.remote;
    el.play().catch(() => {});
    call.meters.caller = analyse(call.remote);
  };
  try {
    await pc.setRemoteDescription({ type: "offer", sdp: f.sdp });
    const mic = await microphone();
    const track = mic && mic.getAudioTracks()[0];
    const tr = pc.getTransceivers().find((x) => x.receiver.track && x.receiver.track.kind === "audio");
    // Without a microphone the agent still hears the caller.
    if (track && tr) {
      await tr.sender.replaceTrack(track);
      tr.direction = "sendrecv";
      call.meters.mic = analyse(mic);
    } else if (track) pc.addTrack(track, mic);
    else if (tr) tr.direction = "recvonly";
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    if (sp.calls.get(f.contact_id) !== call) return; // a newer offer came
    await send({ type: "rtc_answer", contact_id: f.contact_id, session: f.session, sdp: pc.localDescription.sdp });
  } catch (e) {
    if (sp.calls.get(f.contact_id) === call) {
      call.state = "failed";
      call.error = e.message || e.code || String(e);
      render();
    }
  }
}

// usable is a list of ICE servers without entries the browser would
// refuse (no urls), which would otherwise fail the whole peer connection.
function usable(list) {
  return (Array.isArray(list) ? list : []).filter((x) => x && x.urls);
}

// gathered waits for ICE gathering to complete: the answer carries every
// candidate (the protocol does not trickle).
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function forget(id) {
  const call = sp.calls.get(id);
  if (call) call.pc.close();
  sp.calls.delete(id);
  remember();
  if (!sp.calls.size && sp.mic) {
    for (const tr of sp.mic.getTracks()) tr.stop();
    sp.mic = null;
  }
}

function dropAll() {
  for (const id of [...sp.calls.keys()]) forget(id);
  $("#sp-audio").srcObject = null;
}

// ---- level meters ---------------------------------------------------------

function analyse(stream) {
  const ctx = audioCtx();
  if (!ctx) return null;
  const node = ctx.createAnalyser();
  node.fftSize = 512;
  ctx.createMediaStreamSource(stream).connect(node);
  return { node, buf: new Uint8Array(node.fftSize), level: 0 };
}

// level is the RMS of the latest samples, 0–1, scaled so speech fills it.
function level(m) {
  if (!m) return 0;
  m.node.getByteTimeDomainData(m.buf);
  let sum = 0;
  for (const v of m.buf) sum += ((v - 128) / 128) ** 2;
  m.level = Math.min(1, Math.sqrt(sum / m.buf.length) * 4);
  return m.level;
}

setInterval(() => {
  const call = current();
  if (!call) return;
  $("#sp-mic-level").value = sp.muted ? 0 : level(call.meters.mic);
  $("#sp-caller-level").value = level(call.meters.caller);
}, 100);

// ---- ringing ---------------------------------------------------------------

// A voice offer rings (440 + 480 Hz, one second in three) until it is
// answered or gone; made on the spot, no sound file to fetch.
function ringOnce() {
  const ctx = sp.ctx;
  if (!ctx || ctx.state !== "running" || !$("#sound").checked) return;
  const t0 = ctx.currentTime, g = ctx.createGain();
  g.gain.setValueAtTime(0.0001, t0);
  g.gain.exponentialRampToValueAtTime(0.15, t0 + 0.03);
  g.gain.setValueAtTime(0.15, t0 + 0.95);
  g.gain.exponentialRampToValueAtTime(0.0001, t0 + 1);
  g.connect(ctx.destination);
  for (const f of [440, 480]) {
    const o = ctx.createOscillator();
    o.frequency.value = f;
    o.connect(g);
    o.start(t0);
    o.stop(t0 + 1.02);
  }
}

function updateRinging() {
  const ring = sp.want === "browser" && desk.offers.some((o) => isCall(o.contact));
  if (ring === sp.ringing) return;
  sp.ringing = ring;
  clearInterval(sp.ringTimer);
  if (ring) {
    ringOnce();
    sp.ringTimer = setInterval(ringOnce, 3000);
  }
}
document.addEventListener("desk:offers", updateRinging);

// Accepting a call is the moment to ask for the microphone: the agent's
// click lets the browser ask, and the answer is ready when the offer comes.
document.addEventListener("desk:accepting", (ev) => {
  if (sp.want === "browser" && isCall(ev.detail)) microphone();
});

// ---- the panel ---------------------------------------------------------------

// current is the call the panel shows: the one in the selected tab, or
// else the latest.
function current() {
  return sp.calls.get(desk.active) || [...sp.calls.values()].pop() || null;
}

function render() {
  updateRinging();
  const call = current();
  const panel = $("#softphone");
  const chat = call && desk.chats.get(call.id);
  const refused = sp.micError && sp.want === "browser";
  panel.hidden = !call && !refused && !sp.busy && !sp.moved;
  $("#sp-controls").hidden = !call;
  $("#sp-meters").hidden = !call;
  $("#sp-take").hidden = !(sp.busy || sp.moved);
  const caller = chat ? chat.contact.caller.name || t("case.citizen_anon") : "";
  $("#sp-title").textContent = call ? t("sp.title", { caller }) : t("sp.title_idle");
  let status = "";
  if (sp.busy) status = t("sp.busy");
  else if (sp.moved) status = t("sp.moved");
  else if (call) {
    const edge = call.edgeState === "disconnected" || call.edgeState === "failed";
    status = call.held ? t("sp.held")
      : call.state === "connected" && !edge ? t("sp.connected")
        : call.state === "failed" || call.state === "disconnected" || edge ? t("sp.reconnecting")
          : t("sp.connecting");
  }
  $("#sp-status").textContent = status;
  const err = $("#sp-mic-error");
  err.hidden = !refused;
  if (refused) $("#sp-mic-text").textContent = t("sp.mic_" + sp.micError);
  const mute = $("#sp-mute"), hold = $("#sp-hold");
  mute.setAttribute("aria-pressed", String(sp.muted));
  $("#sp-mute-label").textContent = t(sp.muted ? "sp.unmute" : "sp.mute");
  hold.setAttribute("aria-pressed", String(!!call?.held));
  $("#sp-hold-label").textContent = t(call?.held ? "sp.unhold" : "sp.hold");
}

$("#sp-mute").addEventListener("click", () => {
  sp.muted = !sp.muted;
  for (const tr of sp.mic?.getAudioTracks() || []) tr.enabled = !sp.muted;
  announce(t(sp.muted ? "sp.muted" : "sp.unmuted"));
  render();
});

$("#sp-hold").addEventListener("click", async () => {
  const call = current();
  if (!call) return;
  const on = !call.held;
  try {
    await send({ type: "hold", contact_id: call.id, on });
    call.held = on;
    announce(t(on ? "sp.held" : "sp.connected"));
  } catch (e) {
    announce(e.message || t("error.generic"));
  }
  render();
});

for (const b of document.querySelectorAll("#sp-keypad button")) {
  b.addEventListener("click", () => {
    const call = current();
    if (call) send({ type: "dtmf", contact_id: call.id, digits: b.dataset.digit }).catch((e) => announce(e.message || t("error.generic")));
  });
}

$("#sp-end").addEventListener("click", () => {
  const call = current();
  if (call) document.dispatchEvent(new CustomEvent("desk:end", { detail: call.id }));
});

$("#sp-mic-retry").addEventListener("click", async () => {
  sp.micError = "";
  if (await microphone()) for (const id of sp.calls.keys()) send({ type: "rtc_restart", contact_id: id }).catch(() => {});
  render();
});

onLangChange(render);

// The tests read the call's counters here; nothing else uses it.
window.tellonceSoftphone = {
  state() {
    const call = current();
    return { want: sp.want, on: sp.on, busy: sp.busy, moved: sp.moved, ringing: sp.ringing, muted: sp.muted, micError: sp.micError,
      call: call && { contact_id: call.id, session: call.session, state: call.state, held: call.held } };
  },
  async stats() {
    const call = current();
    if (!call) return null;
    const out = { contact_id: call.id, state: call.state, inbound: { packets: 0, bytes: 0 }, outbound: { packets: 0, bytes: 0 } };
    (await call.pc.getStats()).forEach((r) => {
      if (r.kind !== "audio") return;
      if (r.type === "inbound-rtp") Object.assign(out.inbound, { packets: r.packetsReceived, bytes: r.bytesReceived });
      if (r.type === "outbound-rtp") Object.assign(out.outbound, { packets: r.packetsSent, bytes: r.bytesSent });
    });
    return out;
  },
  // The ICE servers the current call's peer connection was built with.
  iceServers() {
    const call = current();
    return call ? call.pc.getConfiguration().iceServers : null;
  },
  levels() {
    const call = current();
    return call ? { mic: call.meters.mic?.level || 0, caller: call.meters.caller?.level || 0 } : null;
  },
};
