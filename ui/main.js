// Thin view over the Rust controller: commands in, events out. What to show is decided
// in logic.js (unit-tested with `node --test ui/tests/`); this file draws it.
import {
  callLine, fmtTime, matchLeads, micWarnings, mosPoints, qualityTitle, snippetParts,
  syncText, uploadLabel,
} from "./logic.js";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);
let metering = false;

function showError(e) {
  const el = $("error");
  el.textContent = e && e.message ? `${e.message} (${e.code})` : String(e);
  el.hidden = false;
}

async function loadDevices() {
  const devices = await invoke("list_devices");
  for (const [dir, select] of [["input", $("input-device")], ["output", $("output-device")]]) {
    select.replaceChildren();
    for (const d of devices.filter((x) => x.direction === dir)) {
      const opt = new Option(d.name + (d.is_default ? " (default)" : ""), d.id, d.is_default, d.is_default);
      select.add(opt);
    }
  }
}

let pending = null;
function draw() {
  const r = pending;
  pending = null;
  if (!r) return;
  $("meter-fill").style.transform = `scaleX(${1 - r.level / 100})`;
  $("meter").setAttribute("aria-valuenow", String(Math.round(r.level)));
  $("level").textContent = r.level.toFixed(0);
  $("dbfs").textContent = r.rms_dbfs.toFixed(1);
  $("low").hidden = !r.low;
  $("clip").hidden = !r.clip;
}

listen("meter", (ev) => {
  if (!pending) requestAnimationFrame(draw);
  pending = ev.payload;
});
listen("audio-error", (ev) => showError(ev.payload));

$("meter-toggle").addEventListener("click", async () => {
  $("error").hidden = true;
  try {
    if (metering) {
      await invoke("stop_meter");
      metering = false;
    } else {
      await invoke("start_meter", { device: $("input-device").value || null });
      metering = true;
    }
    $("meter-toggle").textContent = metering ? "Stop test" : "Test microphone";
  } catch (e) {
    showError(e);
  }
});

loadDevices().then(() => sendPrefs()).catch(showError);

// Account, leads and notes: the signed-in agent lives in the controller.
function errText(e) {
  return e && e.message ? `${e.message} (${e.code})` : String(e);
}

function showAccount(a) {
  $("signin").hidden = !!a;
  $("work").hidden = !a;
  $("call").hidden = !a;
  $("who").hidden = !a;
  if (!a) return;
  $("who-name").textContent = `${a.display_name} at ${a.server_url}`;
  const st = a.status;
  $("sync-state").textContent = syncText(st);
}

async function refreshAccount() {
  showAccount(await invoke("account"));
}

let allLeads = [];
async function loadLeads() {
  const leads = await invoke("leads");
  allLeads = leads;
  const select = $("lead");
  const current = select.value;
  select.replaceChildren();
  for (const l of leads) {
    select.add(new Option(l.company ? `${l.name} (${l.company})` : l.name, l.id, false, l.id === current));
  }
  await loadTimeline();
}

// The lead's timeline: notes, messages and calls (with their recordings), oldest first.
const waveforms = new Map(); // call id -> Waveform, fetched once per recording
let playing = null; // { call, position_ms, duration_ms }

function fmtWhen(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

function tag(text, cls) {
  const t = document.createElement("span");
  t.className = `tag ${cls || ""}`;
  t.textContent = text;
  return t;
}

function renderNote(n, pending) {
  const li = document.createElement("li");
  li.className = "note";
  const body = document.createElement("p");
  body.textContent = n.body;
  li.append(body, tag(pending ? "pending" : "synced", pending ? "pending" : ""));
  return li;
}

function renderMessage(m, pending) {
  const li = document.createElement("li");
  li.className = `message ${m.direction === "INBOUND" ? "in" : "out"}`;
  const body = document.createElement("p");
  body.textContent = m.body || `(${m.kind})`;
  li.append(body, tag(`${m.channel.toLowerCase()} · ${m.status.toLowerCase()}`), pending ? tag("pending", "pending") : "");
  return li;
}

function renderCall(c, pending, rec) {
  const li = document.createElement("li");
  li.className = "call";
  li.dataset.call = c.id;
  const head = document.createElement("p");
  const who = c.remote === "echo" ? "echo test" : c.remote;
  head.textContent = callLine(c);
  li.append(head, tag(fmtWhen(c.started_at_ms)), tag(pending ? "pending" : "synced", pending ? "pending" : ""));
  if (rec && rec.local) {
    const player = document.createElement("div");
    player.className = "player";
    const play = document.createElement("button");
    play.type = "button";
    play.className = "play small";
    play.textContent = playing && playing.call === c.id ? "Stop" : "Play";
    play.setAttribute("aria-label", `Play the recording of the call to ${who}`);
    play.addEventListener("click", () => togglePlay(c.id).catch(showWorkError));
    const canvas = document.createElement("canvas");
    canvas.className = "wave";
    canvas.width = 300;
    canvas.height = 48;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Waveform: you on the top row (left track), them on the bottom row (right track)");
    const labels = document.createElement("div");
    labels.className = "wave-labels";
    labels.innerHTML = "<span>You · L</span><span>Them · R</span>";
    player.append(play, labels, canvas);
    li.append(player, tag(uploadLabel(rec), rec.uploaded ? "" : "pending"));
    drawWave(canvas, c.id).catch(() => {});
  } else if (c.has_recording) {
    li.append(tag("recording on the server"));
  }
  return li;
}

async function drawWave(canvas, call) {
  let w = waveforms.get(call);
  if (!w) {
    w = await invoke("recording_waveform", { call, buckets: canvas.width / 2 });
    waveforms.set(call, w);
  }
  const g = canvas.getContext("2d");
  const style = getComputedStyle(document.documentElement);
  g.clearRect(0, 0, canvas.width, canvas.height);
  const rowH = canvas.height / 2;
  const colors = [style.getPropertyValue("--left").trim(), style.getPropertyValue("--right").trim()];
  w.tracks.forEach((track, row) => {
    g.fillStyle = colors[row] || colors[0];
    const bw = canvas.width / track.length;
    track.forEach((v, i) => {
      const h = Math.max(1, v * (rowH - 2));
      g.fillRect(i * bw, row * rowH + (rowH - h) / 2, Math.max(1, bw - 0.5), h);
    });
  });
  if (playing && playing.call === call && w.duration_ms) {
    g.fillStyle = style.getPropertyValue("--fg").trim();
    g.fillRect((playing.position_ms / w.duration_ms) * canvas.width, 0, 2, canvas.height);
  }
}

async function togglePlay(call) {
  if (playing && playing.call === call) {
    await invoke("stop_playback");
    return;
  }
  await invoke("play_recording", { call, output: $("output-device").value || null, fromMs: 0 });
  playing = { call, position_ms: 0 };
  updatePlayButtons();
}

function updatePlayButtons() {
  for (const li of document.querySelectorAll("#timeline li.call")) {
    const b = li.querySelector("button.play");
    if (b) b.textContent = playing && playing.call === li.dataset.call ? "Stop" : "Play";
  }
}

listen("playback", (ev) => {
  const e = ev.payload;
  if (e.event === "position") {
    playing = { call: e.call_id, position_ms: e.position_ms };
  } else if (e.event === "finished") {
    if (playing && playing.call === e.call_id) playing = null;
    updatePlayButtons();
  } else if (e.event === "error") {
    showWorkError(e);
  }
  const canvas = document.querySelector(`#timeline li[data-call="${e.call_id}"] canvas`);
  if (canvas) drawWave(canvas, e.call_id).catch(() => {});
});

// Entries are kept by id and redrawn only when they changed (a sync round refreshes the
// list every 15 s): rebuilding every item, canvases included, left the web process
// growing by megabytes per call (docs/benchmarks.md). The newest TIMELINE_LIMIT show;
// "Show older" reveals the rest.
const TIMELINE_LIMIT = 50;
const rendered = new Map(); // "entity:id" -> { sig, li }
let renderedLead = null;
let showOlder = false;

async function loadTimeline() {
  const lead = $("lead").value;
  const list = $("timeline");
  if (lead !== renderedLead) {
    rendered.clear();
    renderedLead = lead;
    showOlder = false;
  }
  if (!lead) {
    list.replaceChildren();
    return;
  }
  const entries = await invoke("timeline", { lead });
  const shown = showOlder ? entries : entries.slice(-TIMELINE_LIMIT);
  const keep = new Set();
  const items = [];
  for (const { item, pending, recording } of shown) {
    const key = `${item.entity}:${item.data.id}`;
    const sig = JSON.stringify([item.data, pending, recording]);
    keep.add(key);
    const old = rendered.get(key);
    if (old && old.sig === sig) {
      items.push(old.li);
      continue;
    }
    let li = null;
    if (item.entity === "note") li = renderNote(item.data, pending);
    else if (item.entity === "message") li = renderMessage(item.data, pending);
    else if (item.entity === "call") li = renderCall(item.data, pending, recording);
    if (!li) continue;
    rendered.set(key, { sig, li });
    items.push(li);
  }
  for (const key of rendered.keys()) if (!keep.has(key)) rendered.delete(key);
  const hidden = entries.length - shown.length;
  if (hidden > 0) {
    const li = document.createElement("li");
    li.className = "older";
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    b.textContent = `Show ${hidden} older`;
    b.addEventListener("click", () => {
      showOlder = true;
      loadTimeline().catch(showWorkError);
    });
    li.append(b);
    items.unshift(li);
  }
  list.replaceChildren(...items);
  $("timeline-empty").hidden = items.length > 0;
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").hidden = true;
  try {
    showAccount(await invoke("sign_in", {
      server: $("server").value, email: $("email").value, password: $("password").value,
    }));
    $("password").value = "";
    await loadLeads();
  } catch (e) {
    $("signin-error").textContent = errText(e);
    $("signin-error").hidden = false;
  }
});

$("lead").addEventListener("change", () => loadTimeline().catch((e) => showWorkError(e)));

function showWorkError(e) {
  $("work-error").textContent = errText(e);
  $("work-error").hidden = false;
}

$("note-save").addEventListener("click", async () => {
  $("work-error").hidden = true;
  try {
    await invoke("write_note", { lead: $("lead").value, body: $("note-body").value });
    $("note-body").value = "";
    await loadTimeline();
    await refreshAccount();
    syncNow();
  } catch (e) {
    showWorkError(e);
  }
});

async function syncNow() {
  try {
    await invoke("sync_now");
  } catch (e) {
    // Offline is a state, not an error: the header says so and notes stay pending.
  }
  await refreshAccount();
  await loadTimeline();
}
listen("sync-changed", () => {
  refreshAccount().catch(() => {});
  loadTimeline().catch(() => {});
});
// Presence: colleagues' calls fail with "busy" unless the agent is available.
$("presence").addEventListener("change", () => {
  $("presence").dataset.status = $("presence").value;
listen("presence-changed", (ev) => {
  $("presence").value = ev.payload;
  $("presence").dataset.status = ev.payload;
});
  invoke("set_presence", { status: $("presence").value }).catch(showWorkError);
});
$("presence").dataset.status = $("presence").value;

$("sync-now").addEventListener("click", () => syncNow().catch(showWorkError));

refreshAccount()
  .then(() => ($("work").hidden ? null : loadLeads()))
  .catch(showWorkError)
  // The first screen is drawn and usable (logged for the start-up benchmark).
  .finally(() => invoke("ui_ready").catch(() => {}));

// Search: leads by name or company, and the local full-text index of notes and messages
// (works offline). Picking a result opens that lead's timeline.
let searchSeq = 0;

function resultItem(text, snippet, lead) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.className = "result";
  const title = document.createElement("span");
  title.textContent = text;
  b.append(title);
  if (snippet) {
    const p = document.createElement("span");
    p.className = "snippet";
    // The store marks the match with [ ]: shown as <mark>, built as text nodes.
    for (const part of snippetParts(snippet)) {
      if (part.mark) {
        const m = document.createElement("mark");
        m.textContent = part.text;
        p.append(m);
      } else {
        p.append(part.text);
      }
    }
    b.append(p);
  }
  b.addEventListener("click", () => {
    $("lead").value = lead;
    $("search").value = "";
    $("search-results").hidden = true;
    loadTimeline().catch(showWorkError);
    $("lead").focus();
  });
  li.append(b);
  return li;
}

async function runSearch() {
  const q = $("search").value.trim();
  const seq = ++searchSeq;
  const list = $("search-results");
  if (!q) {
    list.hidden = true;
    list.replaceChildren();
    return;
  }
  const names = new Map(allLeads.map((l) => [l.id, l.name]));
  const items = matchLeads(allLeads, q)
    .map((l) => resultItem(l.company ? `${l.name} (${l.company})` : l.name, null, l.id));
  for (const h of await invoke("search", { query: q })) {
    items.push(resultItem(`${h.entity} · ${names.get(h.lead_id) || "lead"}`, h.snippet, h.lead_id));
  }
  if (seq !== searchSeq) return; // a newer keystroke already answered
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Nothing matches.";
    items.push(li);
  }
  list.replaceChildren(...items);
  list.hidden = false;
}

let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => runSearch().catch(showWorkError), 120);
});
$("search").addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") {
    $("search").value = "";
    runSearch().catch(() => {});
  }
});
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey && ev.key === "k" && !$("work").hidden) {
    ev.preventDefault();
    $("search").focus();
  }
});
setInterval(() => { if (!$("work").hidden) syncNow().catch(() => {}); }, 15000);

// The call panel: commands to the controller, its events drawn at most once per frame.
let callStart = null;
let timer = null;
let muted = false;
let held = false;
const levels = { mic: null, remote: null };

function drawLevels() {
  for (const [key, id] of [["mic", "call-mic"], ["remote", "call-remote"]]) {
    const r = levels[key];
    if (!r) continue;
    levels[key] = null;
    const el = $(id);
    el.firstElementChild.style.transform = `scaleX(${1 - r.level / 100})`;
    el.setAttribute("aria-valuenow", String(Math.round(r.level)));
  }
}

function inCall(on) {
  $("dialer").hidden = on;
  $("in-call").hidden = !on;
  if (!on) {
    clearInterval(timer);
    callStart = null;
  }
}


listen("call-event", (ev) => {
  const e = ev.payload;
  if (e.event === "mic_level" || e.event === "remote_level") {
    if (!levels.mic && !levels.remote) requestAnimationFrame(drawLevels);
    levels[e.event === "mic_level" ? "mic" : "remote"] = e;
    if (e.event === "mic_level") {
      const w = micWarnings(e, muted);
      $("call-low").hidden = !w.includes("low");
      $("call-clip").hidden = !w.includes("clip");
    }
  } else if (e.event === "state") {
    // CallState is internally tagged: {state: "ringing_out"}, {state: "ended", reason: …}.
    const st = e.state.state;
    $("call-state").textContent = st.replace(/_/g, " ");
    if (st !== "ringing_in" && !$("incoming").hidden && st !== "ended") {
      $("incoming").hidden = true;
      inCall(true);
    }
    if (st === "connected" && !callStart) {
      callStart = Date.now();
      timer = setInterval(() => ($("call-timer").textContent = fmtTime(Date.now() - callStart)), 500);
    }
  } else if (e.event === "quality") {
    const q = $("call-quality");
    q.textContent = e.level;
    q.title = qualityTitle(e);
    qualitySamples.push(e);
  } else if (e.event === "notice") {
    $("call-error").textContent = `${e.message} (${e.code})`;
    $("call-error").hidden = false;
  }
});

// Incoming calls: the app rings (natively, on the chosen speaker) until answered,
// declined, or the caller gives up.
listen("incoming-call", (ev) => {
  const c = ev.payload;
  $("incoming-from").textContent = c.from_name;
  $("incoming").hidden = false;
  $("dialer").hidden = true;
  $("call-summary").hidden = true;
  $("call-error").hidden = true;
  resetCallPanel();
  $("accept").focus();
});
$("accept").addEventListener("click", () => {
  $("incoming").hidden = true;
  inCall(true);
  callCommand("accept");
});
$("reject").addEventListener("click", () => {
  $("incoming").hidden = true;
  callCommand("reject");
});

listen("call-ended", (ev) => {
  const r = ev.payload;
  $("incoming").hidden = true;
  inCall(false);
  const q = r.quality ? ` · MOS ${r.quality.mos.toFixed(2)} (${r.quality.level})` : "";
  $("call-summary").textContent =
    `Call ended (${r.end_reason.replace(/_/g, " ")}) after ${fmtTime(r.duration_ms)}${q}` +
    (r.recording ? " · recorded" : "") + (r.saved_to_store ? " · saved to the lead" : "");
  $("call-summary").hidden = false;
  drawQualityGraph();
  refreshAccount().catch(() => {});
  loadTimeline().catch(() => {});
});

async function callCommand(command) {
  try {
    await invoke("call_command", { command });
  } catch (e) {
    $("call-error").textContent = errText(e);
    $("call-error").hidden = false;
  }
}

$("dial").addEventListener("click", async () => {
  $("call-error").hidden = true;
  $("call-summary").hidden = true;
  resetCallPanel();
  inCall(true);
  try {
    await invoke("start_call", {
      request: {
        target: $("target").value.trim(),
        lead: $("about-lead").checked && $("lead").value ? $("lead").value : null,
        record: $("record").checked,
        input: $("input-device").value || null,
        output: $("output-device").value || null,
      },
    });
  } catch (e) {
    inCall(false);
    $("call-error").textContent = errText(e);
    $("call-error").hidden = false;
  }
});
// The call's MOS over time, drawn once it ends (one point per second of quality).
let qualitySamples = [];
function drawQualityGraph() {
  const canvas = $("quality-graph");
  const pts = mosPoints(qualitySamples, canvas.width, canvas.height);
  canvas.hidden = pts.length < 2;
  if (canvas.hidden) return;
  const g = canvas.getContext("2d");
  const style = getComputedStyle(document.documentElement);
  g.clearRect(0, 0, canvas.width, canvas.height);
  // Level bands (seed 001): MOS >= 4 excellent, >= 3.6 good, >= 3.1 fair.
  g.fillStyle = style.getPropertyValue("--track").trim();
  for (const mos of [4, 3.6, 3.1]) {
    const y = canvas.height - ((mos - 1) / 3.5) * canvas.height;
    g.fillRect(0, y, canvas.width, 1);
  }
  g.strokeStyle = style.getPropertyValue("--accent").trim();
  g.lineWidth = 2;
  g.beginPath();
  pts.forEach((p, i) => (i ? g.lineTo(p.x, p.y) : g.moveTo(p.x, p.y)));
  g.stroke();
  const min = Math.min(...qualitySamples.map((q) => q.mos));
  canvas.setAttribute("aria-label", `MOS over the call: lowest ${min.toFixed(2)}, ${qualitySamples.length} seconds`);
}

function resetCallPanel() {
  qualitySamples = [];
  $("quality-graph").hidden = true;
  $("call-low").hidden = true;
  $("call-clip").hidden = true;
  muted = held = false;
  $("mute").setAttribute("aria-pressed", "false");
  $("mute").textContent = "Mute";
  $("hold").setAttribute("aria-pressed", "false");
  $("hold").textContent = "Hold";
  $("call-state").textContent = "Dialing";
  $("call-timer").textContent = "0:00";
  $("call-quality").textContent = "";
  $("dtmf-sent").textContent = "";
  $("keypad").hidden = true;
  $("keypad-toggle").setAttribute("aria-expanded", "false");
  for (const id of ["call-mic", "call-remote"]) {
    $(id).firstElementChild.style.transform = "scaleX(1)";
    $(id).setAttribute("aria-valuenow", "0");
  }
}

// Calls (incoming ones too) use the devices and recording choice shown here.
function sendPrefs() {
  invoke("set_call_prefs", {
    prefs: {
      input: $("input-device").value || null,
      output: $("output-device").value || null,
      record: $("record").checked,
      bitrate_kbps: Number($("bitrate").value),
    },
  }).catch(() => {});
}
// The choices are kept in the webview's storage (device ids and numbers only).
for (const id of ["bitrate"]) {
  const saved = localStorage.getItem(`pref.${id}`);
  if (saved) $(id).value = saved;
  $(id).addEventListener("change", () => localStorage.setItem(`pref.${id}`, $(id).value));
}
for (const id of ["input-device", "output-device", "record", "bitrate"]) $(id).addEventListener("change", sendPrefs);

$("mute").addEventListener("click", () => {
  muted = !muted;
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = muted ? "Unmute" : "Mute";
  callCommand(muted ? "mute" : "unmute");
});
$("hold").addEventListener("click", () => {
  held = !held;
  $("hold").setAttribute("aria-pressed", String(held));
  $("hold").textContent = held ? "Resume" : "Hold";
  callCommand(held ? "hold" : "resume");
});
$("hangup").addEventListener("click", () => callCommand("hangup"));
$("keypad-toggle").addEventListener("click", () => {
  const open = $("keypad").hidden;
  $("keypad").hidden = !open;
  $("keypad-toggle").setAttribute("aria-expanded", String(open));
});
function sendDigit(d) {
  $("dtmf-sent").textContent += d;
  invoke("call_command", { command: "dtmf", digit: d }).catch((e) => {
    $("call-error").textContent = errText(e);
    $("call-error").hidden = false;
  });
}
for (const b of document.querySelectorAll("#keypad button")) {
  b.addEventListener("click", () => sendDigit(b.dataset.digit));
}
// Keyboard: Ctrl+Enter answer, Ctrl+M mute, Ctrl+H hang up (or decline while ringing).
document.addEventListener("keydown", (ev) => {
  if (!$("incoming").hidden && ev.ctrlKey && (ev.key === "Enter" || ev.key === "h")) {
    ev.preventDefault();
    $(ev.key === "Enter" ? "accept" : "reject").click();
    return;
  }
  if ($("in-call").hidden) return;
  // Digits typed with the keypad open go out as DTMF (RFC 4733), as on a desk phone.
  if (!$("keypad").hidden && !ev.ctrlKey && /^[0-9*#]$/.test(ev.key) && ev.target.tagName !== "INPUT") {
    ev.preventDefault();
    sendDigit(ev.key);
    return;
  }
  if (!ev.ctrlKey) return;
  if (ev.key === "m") { ev.preventDefault(); $("mute").click(); }
  if (ev.key === "h") { ev.preventDefault(); $("hangup").click(); }
});
