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
