// Thin view over the Rust controller: commands in, events out.
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
  $("meter-fill").style.transform = `scaleX(${r.level / 100})`;
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

loadDevices().catch(showError);

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
  $("sync-state").textContent =
    (st.online ? "online" : "offline") + (st.pending ? ` · ${st.pending} pending` : " · all synced");
}

async function refreshAccount() {
  showAccount(await invoke("account"));
}

async function loadLeads() {
  const leads = await invoke("leads");
  const select = $("lead");
  const current = select.value;
  select.replaceChildren();
  for (const l of leads) {
    select.add(new Option(l.company ? `${l.name} (${l.company})` : l.name, l.id, false, l.id === current));
  }
  await loadNotes();
}

async function loadNotes() {
  const lead = $("lead").value;
  const list = $("notes");
  list.replaceChildren();
  if (!lead) return;
  for (const n of await invoke("notes", { lead })) {
    if (n.deleted) continue;
    const li = document.createElement("li");
    li.textContent = n.body;
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = n.version === 0 ? "pending" : "synced";
    li.classList.toggle("pending", n.version === 0);
    li.append(tag);
    list.append(li);
  }
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

$("lead").addEventListener("change", () => loadNotes().catch((e) => showWorkError(e)));

function showWorkError(e) {
  $("work-error").textContent = errText(e);
  $("work-error").hidden = false;
}

$("note-save").addEventListener("click", async () => {
  $("work-error").hidden = true;
  try {
    await invoke("write_note", { lead: $("lead").value, body: $("note-body").value });
    $("note-body").value = "";
    await loadNotes();
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
  await loadNotes();
}
$("sync-now").addEventListener("click", () => syncNow().catch(showWorkError));

refreshAccount()
  .then(() => ($("work").hidden ? null : loadLeads()))
  .catch(showWorkError);
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
    el.firstElementChild.style.transform = `scaleX(${r.level / 100})`;
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

function fmtTime(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

listen("call-event", (ev) => {
  const e = ev.payload;
  if (e.event === "mic_level" || e.event === "remote_level") {
    if (!levels.mic && !levels.remote) requestAnimationFrame(drawLevels);
    levels[e.event === "mic_level" ? "mic" : "remote"] = e;
  } else if (e.event === "state") {
    // CallState is internally tagged: {state: "ringing_out"}, {state: "ended", reason: …}.
    const st = e.state.state;
    $("call-state").textContent = st.replace(/_/g, " ");
    if (st === "connected" && !callStart) {
      callStart = Date.now();
      timer = setInterval(() => ($("call-timer").textContent = fmtTime(Date.now() - callStart)), 500);
    }
  } else if (e.event === "quality") {
    const q = $("call-quality");
    q.textContent = e.level;
    q.title = `jitter ${e.jitter_ms.toFixed(1)} ms · loss ${e.packet_loss_pct.toFixed(1)} % · RTT ${e.rtt_ms == null ? "-" : e.rtt_ms.toFixed(0) + " ms"} · MOS ${e.mos.toFixed(2)}`;
  } else if (e.event === "notice") {
    $("call-error").textContent = `${e.message} (${e.code})`;
    $("call-error").hidden = false;
  }
});

listen("call-ended", (ev) => {
  const r = ev.payload;
  inCall(false);
  const q = r.quality ? ` · MOS ${r.quality.mos.toFixed(2)} (${r.quality.level})` : "";
  $("call-summary").textContent =
    `Call ended (${r.end_reason.replace(/_/g, " ")}) after ${fmtTime(r.duration_ms)}${q}` +
    (r.recording ? " · recorded" : "") + (r.saved_to_store ? " · saved to the lead" : "");
  $("call-summary").hidden = false;
  refreshAccount().catch(() => {});
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
  muted = held = false;
  $("mute").setAttribute("aria-pressed", "false");
  $("hold").setAttribute("aria-pressed", "false");
  $("call-state").textContent = "Dialing";
  $("call-timer").textContent = "0:00";
  $("call-quality").textContent = "";
  inCall(true);
  try {
    await invoke("start_call", {
      target: $("target").value.trim(),
      lead: $("about-lead").checked && $("lead").value ? $("lead").value : null,
      record: $("record").checked,
    });
  } catch (e) {
    inCall(false);
    $("call-error").textContent = errText(e);
    $("call-error").hidden = false;
  }
});
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
// Keyboard: Ctrl+M mute, Ctrl+H hang up.
document.addEventListener("keydown", (ev) => {
  if ($("in-call").hidden || !ev.ctrlKey) return;
  if (ev.key === "m") { ev.preventDefault(); $("mute").click(); }
  if (ev.key === "h") { ev.preventDefault(); $("hangup").click(); }
});
