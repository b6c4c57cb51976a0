import { fmtTime, micWarnings, mosPoints, qualityTitle } from "./logic.js";
import { $, $$, errText, invoke, listen, setText } from "./dom.js";
import { app } from "./state.js";
import { refreshAccount } from "./account.js";
import { refreshWork } from "./leads.js";
import { drawUpdate } from "./update.js";
import { showView } from "./views.js";

// The call panel: commands to the controller; what it shows comes from the call's view
// model (`call-view`: state, muted, held, the timer's start), never from what the page
// asked for, so a command the call refused never shows as done.
let timer = null;
/** @type {import("./bindings").CallView | null} */
let view = null;
/** @type {{mic: import("./bindings").MeterReading | null, remote: import("./bindings").MeterReading | null}} */
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
  app.callOn = on;
  // In a narrow window the call panel stays on top of whichever view is open.
  document.body.classList.toggle("in-call", on);
  drawUpdate();
  $("dialer").hidden = on;
  $("in-call").hidden = !on;
  if (!on) {
    clearInterval(timer);
    timer = null;
    view = null;
  }
}


// While the window is hidden the app stops sending meter levels (nobody sees them).
document.addEventListener("visibilitychange", () => {
  invoke("meters_visible", { visible: !document.hidden }).catch(() => {});
});

// Both meters' latest readings arrive together, at most 20 times a second.
listen("call-levels", (ev) => {
  const { mic, remote } = ev.payload;
  if (!levels.mic && !levels.remote) requestAnimationFrame(drawLevels);
  if (mic) {
    levels.mic = mic;
    const w = micWarnings(mic, !!view?.muted);
    $("call-low").hidden = !w.includes("low");
    $("call-clip").hidden = !w.includes("clip");
  }
  if (remote) levels.remote = remote;
});

listen("call-view", (ev) => {
  view = ev.payload;
  // CallState is internally tagged: {state: "ringing_out"}, {state: "ended", reason: …}.
  const st = view.state.state;
  setText($("call-state"), st.replace(/_/g, " "));
  $("mute").setAttribute("aria-pressed", String(view.muted));
  setText($("mute"), view.muted ? "Unmute" : "Mute");
  $("hold").setAttribute("aria-pressed", String(view.held));
  setText($("hold"), view.held ? "Resume" : "Hold");
  if (st !== "ringing_in" && !$("incoming").hidden && st !== "ended") {
    $("incoming").hidden = true;
    inCall(true);
  }
  if (view.connected_at_ms !== null && !timer) {
    const drawTimer = () => {
      if (view?.connected_at_ms != null) setText($("call-timer"), fmtTime(Date.now() - view.connected_at_ms));
    };
    drawTimer();
    timer = setInterval(drawTimer, 500);
  }
});

listen("call-event", (ev) => {
  const e = ev.payload;
  if (e.event === "quality") {
    const q = $("call-quality");
    setText(q, e.level);
    q.title = qualityTitle(e);
    qualitySamples.push(e);
  } else if (e.event === "notice") {
    setText($("call-error"), errText(e));
    $("call-error").hidden = false;
  }
});

// Incoming calls: the app rings (natively, on the chosen speaker) until answered,
// declined, or the caller gives up.
listen("incoming-call", (ev) => {
  const c = ev.payload;
  setText($("incoming-from"), c.from_name);
  $("incoming").hidden = false;
  $("dialer").hidden = true;
  showView("call");
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
  refreshWork().catch(() => {});
});

/**
 * Sends a command to the call; false (and the error shown) when it was refused.
 * @param {import("./bindings").CallAction} command
 */
async function callCommand(command) {
  try {
    await invoke("call_command", { command });
    return true;
  } catch (e) {
    setText($("call-error"), errText(e));
    $("call-error").hidden = false;
    return false;
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
        lead: $("about-lead").checked && app.currentLead ? app.currentLead : null,
        record: $("record").checked,
        input: $("input-device").value || null,
        output: $("output-device").value || null,
      },
    });
  } catch (e) {
    inCall(false);
    setText($("call-error"), errText(e));
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
  view = null;
  $("mute").setAttribute("aria-pressed", "false");
  setText($("mute"), "Mute");
  $("hold").setAttribute("aria-pressed", "false");
  setText($("hold"), "Hold");
  setText($("call-state"), "Dialing");
  setText($("call-timer"), "0:00");
  setText($("call-quality"), "");
  setText($("dtmf-sent"), "");
  $("keypad").hidden = true;
  $("keypad-toggle").setAttribute("aria-expanded", "false");
  for (const id of ["call-mic", "call-remote"]) {
    $(id).firstElementChild.style.transform = "scaleX(1)";
    $(id).setAttribute("aria-valuenow", "0");
  }
}

// The buttons ask; the call's view answers (`call-view` above).
$("mute").addEventListener("click", () => callCommand(view?.muted ? "unmute" : "mute"));
$("hold").addEventListener("click", () => callCommand(view?.held ? "resume" : "hold"));
$("hangup").addEventListener("click", () => callCommand("hangup"));
$("keypad-toggle").addEventListener("click", () => {
  const open = $("keypad").hidden;
  $("keypad").hidden = !open;
  $("keypad-toggle").setAttribute("aria-expanded", String(open));
});
function sendDigit(d) {
  $("dtmf-sent").textContent += d;
  invoke("call_command", { command: "dtmf", digit: d }).catch((e) => {
    setText($("call-error"), errText(e));
    $("call-error").hidden = false;
  });
}
for (const b of $$("#keypad button")) {
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
  if (!$("keypad").hidden && !ev.ctrlKey && /^[0-9*#]$/.test(ev.key) && /** @type {HTMLElement} */ (ev.target).tagName !== "INPUT") {
    ev.preventDefault();
    sendDigit(ev.key);
    return;
  }
  if (!ev.ctrlKey) return;
  if (ev.key === "m") { ev.preventDefault(); $("mute").click(); }
  if (ev.key === "h") { ev.preventDefault(); $("hangup").click(); }
});

