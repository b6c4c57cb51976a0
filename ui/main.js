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
