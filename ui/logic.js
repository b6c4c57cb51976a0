// The front end's state logic, free of the DOM and of Tauri so that `node --test`
// checks it (ui/tests/). main.js draws what these functions decide. Types come from
// bindings.d.ts (generated from the Rust types); `tsc -p ui` checks them.

/** @typedef {import("./bindings").Call} Call */
/** @typedef {import("./bindings").Lead} Lead */
/** @typedef {import("./bindings").LeadOverview} LeadOverview */
/** @typedef {import("./bindings").MeterReading} MeterReading */
/** @typedef {import("./bindings").QualitySample} QualitySample */
/** @typedef {import("./bindings").RecordingState} RecordingState */
/** @typedef {import("./bindings").Status} Status */
/** @typedef {import("./bindings").UiError} UiError */
/** @typedef {import("./bindings").UpdateOffer} UpdateOffer */
/** @typedef {import("./bindings").CallLink} CallLink */

/** "m:ss" for a duration in ms (negative counts as 0). @param {number} ms */
export function fmtTime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Lower case without diacritics, so "lucia" matches "Lucía". @param {string} text */
export function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

/**
 * Splits a search snippet whose matches the store wrapped in [ ] into parts.
 * @param {string} snippet
 * @returns {{text: string, mark: boolean}[]}
 */
export function snippetParts(snippet) {
  return snippet
    .split(/(\[[^\]]*\])/)
    .filter((p) => p !== "")
    .map((p) =>
      p.startsWith("[") && p.endsWith("]") ? { text: p.slice(1, -1), mark: true } : { text: p, mark: false },
    );
}

/**
 * Leads whose name or company contains `query` (diacritics and case folded).
 * @param {Lead[]} leads
 * @param {string} query
 */
export function matchLeads(leads, query, limit = 5) {
  const q = fold(query.trim());
  if (!q) return [];
  return leads.filter((l) => fold(`${l.name} ${l.company || ""}`).includes(q)).slice(0, limit);
}

/** The header's sync line from the store's status. @param {Status} status */
export function syncText(status) {
  const parts = [status.online ? "online" : "offline"];
  parts.push(status.pending ? `${status.pending} pending` : "all synced");
  if (status.bytes_left) parts.push(`${Math.ceil(status.bytes_left / 1024)} KiB of recordings to upload`);
  return parts.join(" · ");
}

/** One line about a call record, as the timeline shows it. @param {Call} c */
export function callLine(c) {
  const who = c.remote === "echo" ? "echo test" : c.remote;
  const dir = c.direction === "INBOUND" ? "Call from" : "Call to";
  const q = c.quality ? ` · MOS ${c.quality.mos.toFixed(2)} (${c.quality.level})` : "";
  const reason = (c.end_reason || "").replace(/_/g, " ");
  return `${dir} ${who} · ${fmtTime(c.duration_ms || 0)} · ${reason}${q}`;
}

/**
 * A recording's upload state: "recording uploaded", "recording uploading N %", or, with
 * the sync `status`, why it waits (offline, or the last attempt failed: it retries).
 * @param {RecordingState} rec
 * @param {Status | null} [status]
 */
export function uploadLabel(rec, status) {
  if (rec.uploaded) return "recording uploaded";
  const pct = rec.bytes ? Math.floor((100 * rec.uploaded_bytes) / rec.bytes) : 0;
  if (status && !status.online) return `recording upload paused at ${pct} %: it resumes when the server is back`;
  if (status && status.last_error) return `recording upload failed at ${pct} %: retrying automatically`;
  return `recording uploading ${pct} %`;
}

/** The quality indicator's hover text from a quality sample. @param {QualitySample} q */
export function qualityTitle(q) {
  const rtt = q.rtt_ms == null ? "-" : `${q.rtt_ms.toFixed(0)} ms`;
  // Absent from series recorded before the field existed.
  const buffer = q.jitter_buffer_ms == null ? "" : ` · buffer ${q.jitter_buffer_ms.toFixed(0)} ms`;
  // What loss recovery left: packets lost but rebuilt do not reach the ear.
  const concealed = q.concealed_pct == null ? "" : ` · concealed ${q.concealed_pct.toFixed(1)} %`;
  return `jitter ${q.jitter_ms.toFixed(1)} ms · loss ${q.packet_loss_pct.toFixed(1)} %${concealed} · RTT ${rtt}${buffer} · MOS ${q.mos.toFixed(2)}`;
}

/**
 * The mic warnings to show from a meter reading: "low" after the meter's low flag (the
 * level stayed under 10 for 3 s), "clip" while samples reach full scale. Muted audio is
 * silent on purpose and never "low".
 * @param {MeterReading} reading
 * @param {boolean} muted
 */
export function micWarnings(reading, muted) {
  const out = [];
  if (reading.low && !muted) out.push("low");
  if (reading.clip) out.push("clip");
  return out;
}

/**
 * Points of a call's MOS graph: one per quality sample, x over the call's length and y
 * from MOS 1 (bottom) to 4.5 (top), in a `width` x `height` box.
 * @param {QualitySample[]} samples
 * @param {number} width
 * @param {number} height
 */
export function mosPoints(samples, width, height) {
  if (samples.length === 0) return [];
  const t0 = samples[0].t_s;
  const span = Math.max(1, samples[samples.length - 1].t_s - t0);
  return samples.map((s) => ({
    x: ((s.t_s - t0) / span) * width,
    y: height - ((Math.min(4.5, Math.max(1, s.mos)) - 1) / 3.5) * height,
  }));
}

/**
 * How long ago `ms` (Unix ms) was, from `now`: "just now", "5 min ago", "3 h ago",
 * "yesterday", "4 days ago", then the date.
 * @param {number} ms
 * @param {number} now
 */
export function fmtAgo(ms, now) {
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  const days = Math.floor(s / 86_400);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The lead list's filters: what each keeps of the `leads` command's rows.
 * @type {Record<string, (row: LeadOverview) => boolean>}
 */
export const LEAD_FILTERS = {
  all: () => true,
  unread: (row) => row.unread > 0,
  pending: (row) => row.pending > 0,
  new: (row) => row.last_activity_ms == null,
};

/**
 * Rows kept by `filter` (a key of LEAD_FILTERS; unknown keys keep all), order kept. The
 * open lead (`keepId`) always stays, so opening an unread lead does not make it vanish.
 * @param {LeadOverview[]} rows
 * @param {string} filter
 * @param {string | null} [keepId]
 */
export function filterLeads(rows, filter, keepId = null) {
  const keep = LEAD_FILTERS[filter] || LEAD_FILTERS.all;
  return rows.filter((row) => row.lead.id === keepId || keep(row));
}

/**
 * The second line of a lead row: company and last activity ("call · 5 min ago").
 * @param {LeadOverview} row
 * @param {number} now
 */
export function leadDetail(row, now) {
  const parts = [];
  if (row.lead.company) parts.push(row.lead.company);
  parts.push(row.last_activity_ms == null ? "no contact yet" : `${row.last_activity} · ${fmtAgo(row.last_activity_ms, now)}`);
  return parts.join(" · ");
}

/** A recording's upload as a fraction 0-1 for a progress bar. @param {RecordingState} rec */
export function uploadFraction(rec) {
  if (rec.uploaded) return 1;
  return rec.bytes ? Math.min(1, rec.uploaded_bytes / rec.bytes) : 0;
}

/**
 * What to tell the agent for an error from a command or a call notice: the message
 * says what happened, this says what to do. Keyed by the stable error codes (prefix
 * match on the area for codes not listed).
 * @param {string} code
 * @returns {string}
 */
export function errorHelp(code) {
  /** @type {Record<string, string>} */
  const exact = {
    "audio.device_not_found": "The device is gone: plug it back in or pick another one in Audio settings.",
    "audio.device_lost": "The device stopped working (unplugged?): plug it back in or pick another one in Audio settings.",
    "audio.device_open": "The device is busy or refused to open: close other apps using it, or pick another one.",
    "auth.invalid_credentials": "Check the e-mail and password.",
    "auth.not_signed_in": "Sign in again.",
    "call.busy": "Finish the current call first.",
    "agent.unknown_target": "Type echo, a colleague's name, or a call link id.",
    "recording.not_local": "The recording is on the server only.",
    "update.in_call": "It installs once you hang up.",
    "update.bad_signature": "Nothing was installed. Tell your administrator.",
    network: "The server is unreachable: check the network or the server address. Your work is kept and syncs when it is back.",
  };
  if (exact[code]) return exact[code];
  const area = String(code || "").split(".")[0];
  /** @type {Record<string, string>} */
  const byArea = {
    sync: "Sync will retry automatically; nothing is lost.",
    recorder: "The recording file is damaged or unreadable.",
    store: "The local database failed: restart the app; your unsynced work is kept.",
  };
  return byArea[area] || "";
}

/**
 * An error as one line: "message (code). What to do."
 * @param {UiError | {code: string, message: string} | unknown} e
 */
export function errorText(e) {
  if (!e || typeof e !== "object" || !("message" in e) || !("code" in e)) return String(e);
  const code = String(e.code);
  const help = errorHelp(code);
  return `${e.message} (${code})${help ? `. ${help}` : ""}`;
}

/**
 * Makes `parent`'s children exactly `items`, in order, with the fewest DOM moves: nodes
 * not in `items` are removed first, then each item is inserted only where it is not
 * already in place. Nodes that stay where they are are not touched, so WebKit keeps
 * their layout boxes; `replaceChildren(...items)` detached and re-attached every one
 * on each refresh, and the web process grew with it (docs/benchmarks.md, session 19).
 * Returns the number of insertions and removals made.
 * @param {{ firstChild: any, insertBefore(node: any, ref: any): any, removeChild(node: any): any }} parent
 * @param {any[]} items nodes, each at most once
 */
export function syncChildren(parent, items) {
  let ops = 0;
  const want = new Set(items);
  for (let n = parent.firstChild; n; ) {
    const next = n.nextSibling;
    if (!want.has(n)) {
      parent.removeChild(n);
      ops++;
    }
    n = next;
  }
  let cur = parent.firstChild;
  for (const item of items) {
    if (item === cur) {
      cur = cur.nextSibling;
      continue;
    }
    parent.insertBefore(item, cur);
    ops++;
  }
  return ops;
}

/** Update errors that only mean "this install does not update itself"; no banner. */
const QUIET_UPDATE_CODES = ["update.no_key", "update.disabled", "update.not_packaged", "update.not_signed_in"];

/**
 * The update banner: hidden when nothing is offered; its install button waits for the
 * call to end (the update restarts the app).
 * @param {UpdateOffer | null} offer
 * @param {boolean} inCall
 * @returns {{hidden: boolean, text: string, canInstall: boolean, hint: string}}
 */
export function updateBanner(offer, inCall) {
  if (!offer) return { hidden: true, text: "", canInstall: false, hint: "" };
  const notes = offer.notes.trim() ? `: ${offer.notes.trim()}` : "";
  return {
    hidden: false,
    text: `Version ${offer.version} is available (you have ${offer.current_version})${notes}`,
    canInstall: !inCall,
    hint: inCall ? "Installs after the call: the app restarts to update." : "The app restarts to update.",
  };
}

/**
 * Whether an update check's error is worth showing: not for an install that simply
 * does not update itself (no key in the build, managed by the administrator, not
 * installed from a package, signed out).
 * @param {UiError | unknown} e
 */
export function updateErrorShown(e) {
  const code = e && typeof e === "object" && "code" in e ? String(e.code) : "";
  return !QUIET_UPDATE_CODES.includes(code);
}

/**
 * One line about a call link: whom it is for, how long it stays open, single use.
 * @param {CallLink} link
 * @param {string | null} leadName the lead's name when the link is for a known lead
 * @param {number} now Unix ms
 */
export function linkLabel(link, leadName, now) {
  const left = Math.max(0, Math.floor((link.expires_at_ms - now) / 60_000));
  const span = left >= 60 ? `${Math.floor(left / 60)} h ${left % 60} min` : `${left} min`;
  const who = leadName ? `For ${leadName}` : "No lead";
  return `${who} · open ${span} more${link.single_use ? " · one call" : ""}`;
}
