// Settings: audio devices, the microphone meter, the test tone, and the call
// preferences under the administrator's recording policy.
import { $, invoke, listen, setText, showError } from "./dom.js";

let metering = false;

/** Fills the device pickers, keeping the agent's choice when it is still there. */
export async function loadDevices() {
  const devices = await invoke("list_devices");
  for (const [dir, select] of [["input", $("input-device")], ["output", $("output-device")]]) {
    const chosen = select.value;
    select.replaceChildren();
    for (const d of devices.filter((x) => x.direction === dir)) {
      const keep = chosen ? d.id === chosen : d.is_default;
      select.add(new Option(d.name + (d.is_default ? " (default)" : ""), d.id, keep, keep));
    }
  }
  // Without a microphone nothing else works: say so where the agent looks first.
  $("no-mic").hidden = $("input-device").options.length > 0;
}

$("refresh-devices").addEventListener("click", () => {
  $("error").hidden = true;
  loadDevices().then(() => sendPrefs()).catch(showError);
});

$("test-tone").addEventListener("click", async () => {
  const b = $("test-tone");
  b.disabled = true;
  setText($("tone-result"), "Playing three rising notes…");
  try {
    await invoke("play_test_tone", { output: $("output-device").value || null });
    setText($("tone-result"), "Did you hear three rising notes? If not, pick another output device or raise the volume.");
  } catch (e) {
    setText($("tone-result"), "");
    showError(e);
  } finally {
    b.disabled = false;
  }
});

let pending = null;
function draw() {
  const r = pending;
  pending = null;
  if (!r) return;
  $("meter-fill").style.transform = `scaleX(${1 - r.level / 100})`;
  $("meter").setAttribute("aria-valuenow", String(Math.round(r.level)));
  setText($("level"), r.level.toFixed(0));
  setText($("dbfs"), r.rms_dbfs.toFixed(1));
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
    setText($("meter-toggle"), metering ? "Stop test" : "Test microphone");
  } catch (e) {
    showError(e);
  }
});

/**
 * The administrator's recording policy: what it fixes is shown as set by the
 * administrator and cannot be changed here (Rust refuses it too).
 * @param {import("./bindings").AdminConfig} d
 */
export function applyRecordingPolicy(d) {
  const notes = [];
  const fixed = d.recording === "off" || d.recording === "forced";
  /** @type {HTMLInputElement} */ ($("record")).disabled = fixed;
  if (fixed) {
    $("record").checked = d.recording === "forced";
    notes.push(d.recording === "forced" ? "Every call is recorded" : "Calls are not recorded");
  }
  /** @type {HTMLSelectElement} */ ($("bitrate")).disabled = d.recording_bitrate_kbps != null;
  if (d.recording_bitrate_kbps != null) {
    const v = String(d.recording_bitrate_kbps);
    const sel = /** @type {HTMLSelectElement} */ ($("bitrate"));
    if (![...sel.options].some((o) => o.value === v)) {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = `${v} kbit/s`;
      sel.append(o);
    }
    sel.value = v;
    sel.disabled = true;
    notes.push(`recording quality ${v} kbit/s`);
  }
  setText($("record-policy"), notes.length ? `${notes.join("; ")}: set by your administrator.` : "");
  $("record-policy").hidden = notes.length === 0;
}

// Calls (incoming ones too) use the devices and recording choice shown here.
export function sendPrefs() {
  invoke("set_call_prefs", {
    prefs: {
      input: $("input-device").value || null,
      output: $("output-device").value || null,
      record: $("record").checked,
      bitrate_kbps: Number($("bitrate").value),
    },
  }).catch(showError);
}
// The choices are kept in the webview's storage (device ids and numbers only).
for (const id of ["bitrate"]) {
  const saved = localStorage.getItem(`pref.${id}`);
  if (saved) $(id).value = saved;
  $(id).addEventListener("change", () => localStorage.setItem(`pref.${id}`, $(id).value));
}
for (const id of ["input-device", "output-device", "record", "bitrate"]) $(id).addEventListener("change", sendPrefs);

/**
 * The policy again (sign-in and sync bring the organisation's from the server), and
 * the call preferences re-sent under it.
 */
export async function refreshPolicy() {
  try {
    applyRecordingPolicy(await invoke("sign_in_defaults"));
    sendPrefs();
  } catch {
    // An unreadable policy file is shown on the sign-in screen.
  }
}
