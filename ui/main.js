// Thin view over the Rust controller: commands in, events out. What to show is decided
// in logic.js (unit-tested with `node --test ui/tests/`); this file draws it.
import {
  callLine, errorText, filterLeads, fmtTime, leadDetail, matchLeads, micWarnings, mosPoints,
  linkLabel, qualityTitle, snippetParts, syncChildren, syncText, updateBanner,
  updateErrorShown, uploadFraction, uploadLabel,
} from "./logic.js";

// Typed by env.d.ts over the generated bindings.d.ts: `tsc -p ui` checks every command
// name, argument and result, and every event payload, against the Rust types.
const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

/** The element with `id` (any: the DOM's own types are not the point of the check). */
const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
/** The elements matching `sel`, as an array of HTML elements. */
const $$ = (/** @type {string} */ sel) => /** @type {HTMLElement[]} */ ([...document.querySelectorAll(sel)]);
let metering = false;

function showError(e) {
  const el = $("error");
  setText(el, errorText(e));
  el.hidden = false;
}

async function loadDevices() {
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

// The administrator's policy first, so the first preferences sent already follow it.
invoke("sign_in_defaults")
  .then(applyRecordingPolicy, () => {})
  .then(loadDevices)
  .then(() => sendPrefs())
  .catch(showError);

// Account, leads and notes: the signed-in agent lives in the controller.
const errText = errorText;
let syncStatus = null; // the store's sync status, for the upload labels

/** The sign-in screen starts from the administrator's preset server, when there is one. */
async function loadSignInDefaults() {
  try {
    const d = await invoke("sign_in_defaults");
    if (d.server_url) $("server").value = d.server_url;
    $("server").readOnly = d.lock_server_url;
    $("server-locked").hidden = !d.lock_server_url;
  } catch (e) {
    setText($("signin-error"), `${errText(e)} Ask your administrator to fix the file.`);
    $("signin-error").hidden = false;
  }
}

function showAccount(a) {
  if (!a && $("signin").hidden) loadSignInDefaults();
  if (a && !updateTimer) {
    // After sign-in (the server's update route needs the session), then every 4 h.
    checkForUpdate();
    updateTimer = setInterval(checkForUpdate, 4 * 3600 * 1000);
  }
  $("signin").hidden = !!a;
  $("work").hidden = !a;
  $("call").hidden = !a;
  $("who").hidden = !a;
  if (!a) return;
  setText($("who-name"), `${a.display_name} at ${a.server_url}`);
  syncStatus = a.status;
  setText($("sync-state"), syncText(a.status));
}

async function refreshAccount() {
  showAccount(await invoke("account"));
}

// Updates: the server offers one, the agent installs it when no call runs (Rust
// refuses during a call too, and keeps calls out while it installs).
/** @type {import("./bindings").UpdateOffer | null} */
let updateOffer = null;
/** @type {ReturnType<typeof setInterval> | null} */
let updateTimer = null;
let callOn = false;

function drawUpdate() {
  const b = updateBanner(updateOffer, callOn);
  $("update").hidden = b.hidden;
  if (b.hidden) return;
  setText($("update-text"), b.text);
  setText($("update-hint"), b.hint);
  /** @type {HTMLButtonElement} */ ($("update-install")).disabled = !b.canInstall;
}

async function checkForUpdate() {
  try {
    updateOffer = await invoke("check_update");
  } catch (e) {
    updateOffer = null;
    if (updateErrorShown(e)) console.warn("update check:", errText(e));
  }
  drawUpdate();
}

$("update-install").addEventListener("click", async () => {
  /** @type {HTMLButtonElement} */ ($("update-install")).disabled = true;
  setText($("update-hint"), "Downloading and verifying…");
  try {
    await invoke("install_update"); // restarts the app when it succeeds
  } catch (e) {
    setText($("update-hint"), errText(e));
    /** @type {HTMLButtonElement} */ ($("update-install")).disabled = callOn;
  }
});

// Call links: made for the selected lead, copied to the prospect, called once their
// page is open, revoked when no longer wanted. The list is the server's (it survives
// restarts) and is read when the box is opened.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

async function loadLinks() {
  /** @type {import("./bindings").CallLink[]} */
  let links;
  try {
    links = await invoke("links");
  } catch (e) {
    setText($("link-result"), errText(e));
    return;
  }
  const names = new Map(allLeads.map((l) => [l.id, l.name]));
  const items = links.map((l) => {
    const li = document.createElement("li");
    li.dataset.link = l.id;
    const label = document.createElement("span");
    label.className = "link-label";
    label.textContent = linkLabel(l, (l.lead_id && names.get(l.lead_id)) || null, Date.now());
    const url = document.createElement("input");
    url.readOnly = true;
    url.value = l.url;
    url.setAttribute("aria-label", "Link to send");
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "small copy";
    copy.textContent = "Copy";
    copy.addEventListener("click", async () => {
      url.select();
      const ok = (await copyText(l.url)) || document.execCommand("copy");
      setText($("link-result"), ok ? "Link copied: paste it to the prospect." : "Select the link and copy it (Ctrl+C).");
    });
    const call = document.createElement("button");
    call.type = "button";
    call.className = "small call";
    call.textContent = "Call";
    call.addEventListener("click", () => {
      /** @type {HTMLInputElement} */ ($("target")).value = l.id;
      $("dial").click();
    });
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "small danger revoke";
    revoke.textContent = "Revoke";
    revoke.addEventListener("click", async () => {
      try {
        await invoke("revoke_link", { id: l.id });
        setText($("link-result"), "Revoked: the page no longer opens.");
      } catch (e) {
        setText($("link-result"), errText(e));
      }
      await loadLinks();
    });
    li.append(label, url, copy, call, revoke);
    return li;
  });
  $("links").replaceChildren(...items);
}

$("links-box").addEventListener("toggle", () => {
  if (/** @type {HTMLDetailsElement} */ ($("links-box")).open) loadLinks();
});

$("link-new").addEventListener("click", async () => {
  try {
    const link = await invoke("create_link", {
      lead: currentLead,
      singleUse: /** @type {HTMLInputElement} */ ($("link-single")).checked,
    });
    const copied = await copyText(link.url);
    setText($("link-result"), copied ? "New link copied: paste it to the prospect." : "New link below: copy it to the prospect.");
  } catch (e) {
    setText($("link-result"), errText(e));
  }
  await loadLinks();
});

// The lead list: most recent activity first, with unread and pending counts; filters.
let allLeads = []; // Lead records, for the search box
let leadRows = []; // the `leads` command's rows
let currentLead = null;
let leadFilter = "all";
let leadsSig = "";

async function loadLeads() {
  leadRows = await invoke("leads");
  allLeads = leadRows.map((r) => r.lead);
  if (!currentLead && leadRows.length) {
    currentLead = leadRows[0].lead.id;
    showDraft();
  }
  renderLeads();
}

/**
 * Sets an element's text only when it differs: assigning the same text still replaces
 * the text node and lays the line out again.
 * @param {Element} el @param {string} text
 */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// A lead's row, kept by id and updated in place when its figures change.
const leadItems = new Map(); // lead id -> { li, update }

/** @param {string} id */
function leadItem(id) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.className = "lead-row";
  b.dataset.lead = id;
  const name = document.createElement("span");
  name.className = "lead-title";
  const detail = document.createElement("span");
  detail.className = "lead-detail";
  const badge = document.createElement("span");
  badge.className = "badge";
  const pending = document.createElement("span");
  pending.className = "tag pending";
  b.addEventListener("click", () => selectLead(id).catch(showWorkError));
  li.append(b);
  /** @param {import("./bindings").LeadOverview} row @param {number} now */
  const update = (row, now) => {
    if (row.lead.id === currentLead) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
    setText(name, row.lead.name);
    setText(detail, leadDetail(row, now));
    setText(badge, String(row.unread));
    badge.setAttribute("aria-label", `${row.unread} unread`);
    setText(pending, `${row.pending} pending`);
    // The badge and the tag are in the row only while they count something.
    syncChildren(b, [name, detail, ...(row.unread ? [badge] : []), ...(row.pending ? [pending] : [])]);
  };
  return { li, update };
}

function renderLeads() {
  const now = Date.now();
  const rows = filterLeads(leadRows, leadFilter, currentLead);
  // Redrawn only when something shown changed (the list refreshes every sync round).
  const sig = JSON.stringify([rows, currentLead, Math.floor(now / 60_000)]);
  if (sig === leadsSig) return;
  leadsSig = sig;
  const items = rows.map((row) => {
    let r = leadItems.get(row.lead.id);
    if (!r) {
      r = leadItem(row.lead.id);
      leadItems.set(row.lead.id, r);
    }
    r.update(row, now);
    return r.li;
  });
  const shown = new Set(rows.map((row) => row.lead.id));
  for (const id of leadItems.keys()) if (!shown.has(id)) leadItems.delete(id);
  // Keyboard focus stays on the same lead across a redraw.
  const active = /** @type {HTMLElement | null} */ (document.activeElement);
  const focused = active && active.closest("#leads") ? active.dataset.lead : null;
  syncChildren($("leads"), items);
  if (focused) $$(`#leads button[data-lead="${focused}"]`)[0]?.focus();
  $("leads-empty").hidden = items.length > 0;
  const lead = leadRows.find((r) => r.lead.id === currentLead);
  setText($("lead-name"), lead ? `with ${lead.lead.name}` : "");
}

/** Opens a lead's timeline (which marks its messages read), then updates the list. */
async function selectLead(id) {
  if (id !== currentLead) {
    // The draft of the lead being left is kept now, under its own lead.
    clearTimeout(draftTimer);
    storeDraft(currentLead, $("note-body").value);
    currentLead = id;
    showDraft();
  }
  renderLeads();
  await refreshWork();
}

/** Timeline first (it marks the lead read), then the list's counts. */
async function refreshWork() {
  if (!currentLead) await loadLeads();
  await loadTimeline();
  await loadLeads();
}

for (const b of $$(".filters button")) {
  b.addEventListener("click", () => {
    leadFilter = b.dataset.filter || "all";
    for (const x of $$(".filters button")) {
      x.setAttribute("aria-pressed", String(x === b));
    }
    renderLeads();
  });
}
// Arrow keys move through the lead list, as in a mail client.
$("leads").addEventListener("keydown", (ev) => {
  if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
  const buttons = [...$("leads").querySelectorAll("button.lead-row")];
  const i = buttons.indexOf(document.activeElement);
  const next = buttons[i + (ev.key === "ArrowDown" ? 1 : -1)];
  if (next) {
    ev.preventDefault();
    next.focus();
    next.click();
  }
});

// The lead's timeline: notes, messages and calls (with their recordings), oldest first.
const waveforms = new Map(); // call id -> Waveform, fetched once per recording
let playing = null; // { call, position_ms, duration_ms }

// One formatter for every timeline date: each `toLocaleString` with options builds (and
// drops) a whole ICU date formatter.
let whenFormat = null;
function fmtWhen(ms) {
  whenFormat ||= new Intl.DateTimeFormat([], { dateStyle: "short", timeStyle: "short" });
  return whenFormat.format(ms);
}

function tag(text, cls) {
  const t = document.createElement("span");
  t.className = `tag ${cls || ""}`;
  t.textContent = text;
  return t;
}

/** Sets a tag's text and whether it marks its item pending (amber). */
function setTag(t, text, pending) {
  setText(t, text);
  t.classList.toggle("pending", pending);
}

// Each renderer returns the item and an `update` that redraws it in place from a newer
// version of the same record: an upload's progress or a sync changes a few words.
// Rebuilding instead grew the web process about 0.6 MiB more over 25 calls
// (benches/page-footprint.py; docs/benchmarks.md, session 16).

function renderNote(n, pending) {
  const li = document.createElement("li");
  li.className = "note";
  const body = document.createElement("p");
  const sync = tag("");
  li.append(body, sync);
  const update = (n, pending) => {
    setText(body, n.body);
    setTag(sync, pending ? "pending" : "synced", pending);
  };
  update(n, pending);
  return { li, update };
}

function renderMessage(m, pending) {
  const li = document.createElement("li");
  li.className = `message ${m.direction === "INBOUND" ? "in" : "out"}`;
  const body = document.createElement("p");
  const state = tag("");
  const sync = tag("pending", "pending");
  li.append(body, state, sync);
  const update = (m, pending) => {
    setText(body, m.body || `(${m.kind})`);
    setText(state, `${m.channel.toLowerCase()} · ${m.status.toLowerCase()}`);
    // Hidden is not enough: `li:has(.tag.pending)` would still mark the item.
    sync.hidden = !pending;
    sync.classList.toggle("pending", pending);
  };
  update(m, pending);
  return { li, update };
}

function renderCall(c, pending, rec) {
  const li = document.createElement("li");
  li.className = "call";
  li.dataset.call = c.id;
  const head = document.createElement("p");
  const who = c.remote === "echo" ? "echo test" : c.remote;
  const when = tag("");
  const sync = tag("");
  li.append(head, when, sync);
  let bar = null;
  let upload = null;
  if (rec && rec.local) {
    const player = document.createElement("div");
    player.className = "player";
    const play = document.createElement("button");
    play.type = "button";
    play.className = "play small";
    play.textContent = playing && playing.call === c.id ? "Stop" : "Play";
    play.setAttribute("aria-label", `Play the recording of the call to ${who}`);
    play.addEventListener("click", () => togglePlay(c.id).catch(showWorkError));
    // The waveform's canvas exists only while it is on screen (waveObserver).
    const wave = document.createElement("div");
    wave.className = "wave";
    wave.dataset.call = c.id;
    wave.setAttribute("role", "img");
    wave.setAttribute("aria-label", "Waveform: you on the top row (left track), them on the bottom row (right track)");
    const labels = document.createElement("div");
    labels.className = "wave-labels";
    labels.innerHTML = "<span>You · L</span><span>Them · R</span>";
    player.append(play, labels, wave);
    upload = tag("");
    li.append(player, upload);
    waveObserver.observe(wave);
  } else if (c.has_recording) {
    li.append(tag("recording on the server"));
  }
  const update = (c, pending, rec) => {
    setText(head, callLine(c));
    setText(when, fmtWhen(c.started_at_ms));
    setTag(sync, pending ? "pending" : "synced", pending);
    if (!upload) return;
    if (rec.uploaded) {
      bar?.remove();
      bar = null;
    } else {
      if (!bar) {
        bar = document.createElement("progress");
        bar.max = 1;
        bar.setAttribute("aria-label", "Recording upload");
        li.insertBefore(bar, upload);
      }
      bar.value = uploadFraction(rec);
    }
    setTag(upload, uploadLabel(rec, syncStatus), !rec.uploaded);
  };
  update(c, pending, rec);
  return { li, update };
}

/**
 * What decides an item's elements: an item whose shape changed is built anew, else it
 * is updated in place. A call's player exists only while its recording is on this device.
 */
function shapeOf(item, rec) {
  if (item.entity !== "call") return item.entity;
  return `call:${rec && rec.local ? "local" : item.data.has_recording ? "server" : "none"}`;
}

// A waveform's canvas exists only while its item is on screen: a drawn canvas holds a
// backing store in the web process, and a timeline holds TIMELINE_PAGE items or more.
const WAVE_WIDTH = 300;
const waveObserver = new IntersectionObserver((seen) => {
  for (const e of seen) {
    const wave = /** @type {HTMLElement} */ (e.target);
    if (e.isIntersecting) {
      if (wave.firstElementChild) continue;
      const canvas = document.createElement("canvas");
      canvas.width = WAVE_WIDTH;
      canvas.height = 48;
      wave.append(canvas);
      drawWave(canvas, wave.dataset.call || "").catch(() => {});
    } else {
      wave.replaceChildren(); // the cached buckets stay
    }
  }
});

/** Stops watching the waveforms in timeline items that are gone. @param {Element} li */
function forgetWaves(li) {
  for (const wave of li.querySelectorAll("div.wave")) waveObserver.unobserve(wave);
}

async function drawWave(canvas, call) {
  let w = waveforms.get(call);
  if (!w) {
    w = await invoke("recording_waveform", { call, buckets: WAVE_WIDTH / 2 });
    waveforms.set(call, w);
  }
  if (!canvas.isConnected) return; // scrolled away meanwhile
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
  for (const li of $$("#timeline li.call")) {
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
// growing by megabytes per call (docs/benchmarks.md). The newest TIMELINE_PAGE show, and
// "Show older" adds a page at a time: the timeline filling to its 20 items costs the web
// process 1.5-2 MiB, so a lead with hundreds of calls must not render them all.
const TIMELINE_PAGE = 20;
const rendered = new Map(); // "entity:id" -> { sig, shape, li, update }
let renderedLead = null;
let timelineLimit = TIMELINE_PAGE;

// "Show older", one element for the page's life.
const olderItem = document.createElement("li");
olderItem.className = "older";
const olderButton = document.createElement("button");
olderButton.type = "button";
olderButton.className = "small";
olderButton.addEventListener("click", () => {
  timelineLimit += TIMELINE_PAGE;
  loadTimeline().catch(showWorkError);
});
olderItem.append(olderButton);

async function loadTimeline() {
  const lead = currentLead;
  const list = $("timeline");
  if (lead !== renderedLead) {
    for (const { li } of rendered.values()) forgetWaves(li);
    rendered.clear();
    renderedLead = lead;
    timelineLimit = TIMELINE_PAGE;
  }
  if (!lead) {
    list.replaceChildren();
    return;
  }
  const entries = await invoke("timeline", { lead });
  const shown = entries.slice(-timelineLimit);
  const keep = new Set();
  const items = [];
  for (const { item, pending, recording } of shown) {
    // A revocation is an instruction to the store, never a timeline item.
    if (item.entity === "lead_revoked") continue;
    const key = `${item.entity}:${item.data.id}`;
    const sig = JSON.stringify([item.data, pending, recording, recording && !recording.uploaded ? syncStatus : null]);
    keep.add(key);
    const old = rendered.get(key);
    if (old && old.sig === sig) {
      items.push(old.li);
      continue;
    }
    const shape = shapeOf(item, recording);
    if (old && old.shape === shape) {
      old.update(item.data, pending, recording);
      old.sig = sig;
      items.push(old.li);
      continue;
    }
    let made = null;
    if (item.entity === "note") made = renderNote(item.data, pending);
    else if (item.entity === "message") made = renderMessage(item.data, pending);
    else if (item.entity === "call") made = renderCall(item.data, pending, recording);
    if (!made) continue;
    if (old) forgetWaves(old.li);
    rendered.set(key, { sig, shape, ...made });
    items.push(made.li);
  }
  for (const [key, { li }] of rendered) {
    if (keep.has(key)) continue;
    forgetWaves(li);
    rendered.delete(key);
  }
  for (const call of waveforms.keys()) if (!keep.has(`call:${call}`)) waveforms.delete(call);
  const hidden = entries.length - shown.length;
  if (hidden > 0) {
    setText(olderButton, `Show ${Math.min(hidden, TIMELINE_PAGE)} older (${hidden} in all)`);
    items.unshift(olderItem);
  }
  syncChildren(list, items);
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
    await refreshPolicy();
    await refreshWork();
  } catch (e) {
    setText($("signin-error"), errText(e));
    $("signin-error").hidden = false;
  }
});


function showWorkError(e) {
  setText($("work-error"), errText(e));
  $("work-error").hidden = false;
}

// Each lead keeps its unsaved draft (autosaved as the agent types, in the webview's
// storage), so switching leads, a call or a crash loses no words.
const draftKey = (/** @type {string | null} */ lead) => `draft.${lead}`;
let draftTimer = undefined;
function storeDraft(/** @type {string | null} */ lead, /** @type {string} */ body) {
  if (!lead) return;
  if (body.trim()) localStorage.setItem(draftKey(lead), body);
  else localStorage.removeItem(draftKey(lead));
}
$("note-body").addEventListener("input", () => {
  clearTimeout(draftTimer);
  const lead = currentLead;
  const body = $("note-body").value;
  draftTimer = setTimeout(() => {
    storeDraft(lead, body);
    setText($("draft-state"), body.trim() ? "Draft saved on this computer" : "");
  }, 400);
});
function showDraft() {
  clearTimeout(draftTimer);
  const d = localStorage.getItem(draftKey(currentLead));
  $("note-body").value = d || "";
  setText($("draft-state"), d ? "Draft restored" : "");
}

$("note-save").addEventListener("click", async () => {
  $("work-error").hidden = true;
  try {
    await invoke("write_note", { lead: currentLead, body: $("note-body").value });
    clearTimeout(draftTimer);
    localStorage.removeItem(draftKey(currentLead));
    $("note-body").value = "";
    setText($("draft-state"), "");
    await refreshWork();
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
  await refreshWork();
  await refreshPolicy();
}

/**
 * The policy again (sign-in and sync bring the organisation's from the server), and
 * the call preferences re-sent under it.
 */
async function refreshPolicy() {
  try {
    applyRecordingPolicy(await invoke("sign_in_defaults"));
    sendPrefs();
  } catch {
    // An unreadable policy file is shown on the sign-in screen.
  }
}
listen("sync-changed", () => {
  refreshAccount().catch(() => {});
  refreshWork().catch(() => {});
});
// A sync round brought inbound messages (the app also notifies when unfocused).
listen("messages-arrived", () => loadLeads().catch(() => {}));
// Presence: colleagues' calls fail with "busy" unless the agent is available.
$("presence").addEventListener("change", () => {
  $("presence").dataset.status = $("presence").value;
  invoke("set_presence", { status: $("presence").value }).catch(showWorkError);
});
// The tray menu sets presence too.
listen("presence-changed", (ev) => {
  $("presence").value = ev.payload;
  $("presence").dataset.status = ev.payload;
});
$("presence").dataset.status = $("presence").value;

$("sync-now").addEventListener("click", () => syncNow().catch(showWorkError));

// "Copy diagnostics": the redacted support report, shown so the agent sees what they
// share, and copied to the clipboard (the textarea is the fallback where the webview
// grants no clipboard access).
$("copy-diagnostics").addEventListener("click", async () => {
  const box = $("diagnostics-text");
  try {
    box.value = await invoke("diagnostics");
  } catch (e) {
    setText($("diagnostics-result"), `Cannot build the report: ${errText(e)}`);
    return;
  }
  box.hidden = false;
  box.select();
  const copied = (await copyText(box.value)) || document.execCommand("copy");
  setText($("diagnostics-result"), copied
    ? "Copied: paste it into your support ticket. Phone numbers, e-mails and tokens are removed."
    : "Select the report below and copy it (Ctrl+C) into your support ticket.");
});

refreshAccount()
  .then(() => ($("work").hidden ? null : refreshWork()))
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
    $("search").value = "";
    $("search-results").hidden = true;
    leadFilter = "all";
    for (const x of $$(".filters button")) {
      x.setAttribute("aria-pressed", String(x.dataset.filter === "all"));
    }
    selectLead(lead)
      .then(() => $$(`#leads button[data-lead="${lead}"]`)[0]?.focus())
      .catch(showWorkError);
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
  callOn = on;
  drawUpdate();
  $("dialer").hidden = on;
  $("in-call").hidden = !on;
  if (!on) {
    clearInterval(timer);
    callStart = null;
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
    const w = micWarnings(mic, muted);
    $("call-low").hidden = !w.includes("low");
    $("call-clip").hidden = !w.includes("clip");
  }
  if (remote) levels.remote = remote;
});

listen("call-event", (ev) => {
  const e = ev.payload;
  if (e.event === "state") {
    // CallState is internally tagged: {state: "ringing_out"}, {state: "ended", reason: …}.
    const st = e.state.state;
    setText($("call-state"), st.replace(/_/g, " "));
    if (held !== (st === "on_hold")) {
      held = st === "on_hold";
      drawHold();
    }
    if (st !== "ringing_in" && !$("incoming").hidden && st !== "ended") {
      $("incoming").hidden = true;
      inCall(true);
    }
    if (st === "connected" && !callStart) {
      callStart = Date.now();
      timer = setInterval(() => setText($("call-timer"), fmtTime(Date.now() - callStart)), 500);
    }
  } else if (e.event === "quality") {
    const q = $("call-quality");
    setText(q, e.level);
    q.title = qualityTitle(e);
    qualitySamples.push(e);
  } else if (e.event === "notice") {
    setText($("call-error"), errorText(e));
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
        lead: $("about-lead").checked && currentLead ? currentLead : null,
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
  muted = held = false;
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

/**
 * The administrator's recording policy: what it fixes is shown as set by the
 * administrator and cannot be changed here (Rust refuses it too).
 * @param {import("./bindings").AdminConfig} d
 */
function applyRecordingPolicy(d) {
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
function sendPrefs() {
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

// The buttons show what the call did, not what was asked: mute once Rust took the
// command, hold once the call's state says on_hold (a refused command changes nothing).
function drawMute() {
  $("mute").setAttribute("aria-pressed", String(muted));
  setText($("mute"), muted ? "Unmute" : "Mute");
}
function drawHold() {
  $("hold").setAttribute("aria-pressed", String(held));
  setText($("hold"), held ? "Resume" : "Hold");
}
$("mute").addEventListener("click", async () => {
  const want = !muted;
  if (await callCommand(want ? "mute" : "unmute")) {
    muted = want;
    drawMute();
  }
});
$("hold").addEventListener("click", () => callCommand(held ? "resume" : "hold"));
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
