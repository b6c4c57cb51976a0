// The lead's timeline (notes, messages and calls with their recordings, oldest first)
// and the note being written for it.
import { callLine, syncChildren, uploadFraction, uploadLabel } from "./logic.js";
import { $, $$, invoke, listen, setText, showWorkError } from "./dom.js";
import { app } from "./state.js";

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
    setTag(upload, uploadLabel(rec, app.syncStatus), !rec.uploaded);
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

/** Draws the selected lead's timeline, redrawing only the items that changed. */
export async function loadTimeline() {
  const lead = app.currentLead;
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
    const sig = JSON.stringify([item.data, pending, recording, recording && !recording.uploaded ? app.syncStatus : null]);
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
  const lead = app.currentLead;
  const body = $("note-body").value;
  draftTimer = setTimeout(() => {
    storeDraft(lead, body);
    setText($("draft-state"), body.trim() ? "Draft saved on this computer" : "");
  }, 400);
});
/** Shows the selected lead's draft (or an empty note). */
export function showDraft() {
  clearTimeout(draftTimer);
  const d = localStorage.getItem(draftKey(app.currentLead));
  $("note-body").value = d || "";
  setText($("draft-state"), d ? "Draft restored" : "");
}


/** Keeps the draft being written for `lead` now (the agent is leaving it). */
export function keepDraft(/** @type {string | null} */ lead) {
  clearTimeout(draftTimer);
  storeDraft(lead, $("note-body").value);
}

/** Saves the note being written on the selected lead and clears its draft; throws the
 * controller's error (the draft stays). */
export async function saveNote() {
  const lead = app.currentLead;
  // A string, shown as it is (errorText): a note belongs to a lead.
  if (!lead) throw "Pick a lead first: a note is written on a lead.";
  await invoke("write_note", { lead, body: $("note-body").value });
  clearTimeout(draftTimer);
  localStorage.removeItem(draftKey(lead));
  $("note-body").value = "";
  setText($("draft-state"), "");
}
