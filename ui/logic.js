// The front end's state logic, free of the DOM and of Tauri so that `node --test`
// checks it (ui/tests/). main.js draws what these functions decide.

/** "m:ss" for a duration in ms (negative counts as 0). */
export function fmtTime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Lower case without diacritics, so "lucia" matches "Lucía". */
export function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

/** Splits a search snippet whose matches the store wrapped in [ ] into parts. */
export function snippetParts(snippet) {
  return snippet
    .split(/(\[[^\]]*\])/)
    .filter((p) => p !== "")
    .map((p) =>
      p.startsWith("[") && p.endsWith("]") ? { text: p.slice(1, -1), mark: true } : { text: p, mark: false },
    );
}

/** Leads whose name or company contains `query` (diacritics and case folded). */
export function matchLeads(leads, query, limit = 5) {
  const q = fold(query.trim());
  if (!q) return [];
  return leads.filter((l) => fold(`${l.name} ${l.company || ""}`).includes(q)).slice(0, limit);
}

/** The header's sync line from the store's status. */
export function syncText(status) {
  const parts = [status.online ? "online" : "offline"];
  parts.push(status.pending ? `${status.pending} pending` : "all synced");
  if (status.bytes_left) parts.push(`${Math.ceil(status.bytes_left / 1024)} KiB of recordings to upload`);
  return parts.join(" · ");
}

/** One line about a call record, as the timeline shows it. */
export function callLine(c) {
  const who = c.remote === "echo" ? "echo test" : c.remote;
  const dir = c.direction === "INBOUND" ? "Call from" : "Call to";
  const q = c.quality ? ` · MOS ${c.quality.mos.toFixed(2)} (${c.quality.level})` : "";
  const reason = (c.end_reason || "").replace(/_/g, " ");
  return `${dir} ${who} · ${fmtTime(c.duration_ms || 0)} · ${reason}${q}`;
}

/** A recording's upload state: "recording uploaded" or "recording uploading N %". */
export function uploadLabel(rec) {
  if (rec.uploaded) return "recording uploaded";
  const pct = rec.bytes ? Math.floor((100 * rec.uploaded_bytes) / rec.bytes) : 0;
  return `recording uploading ${pct} %`;
}

/** The quality indicator's hover text from a quality sample. */
export function qualityTitle(q) {
  const rtt = q.rtt_ms == null ? "-" : `${q.rtt_ms.toFixed(0)} ms`;
  return `jitter ${q.jitter_ms.toFixed(1)} ms · loss ${q.packet_loss_pct.toFixed(1)} % · RTT ${rtt} · MOS ${q.mos.toFixed(2)}`;
}

/**
 * The mic warnings to show from a meter reading: "low" after the meter's low flag (the
 * level stayed under 10 for 3 s), "clip" while samples reach full scale. Muted audio is
 * silent on purpose and never "low".
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
