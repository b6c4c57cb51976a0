// Unit tests of the front end's state logic: `node --test ui/tests/` (Node's own runner).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  callLine, errorText, filterLeads, fmtAgo, fmtTime, fold, leadDetail, matchLeads, micWarnings,
  linkLabel, mosPoints, qualityTitle, snippetParts, syncChildren, syncText, updateBanner,
  updateErrorShown, uploadFraction, uploadLabel,
} from "../logic.js";

test("durations read as m:ss", () => {
  assert.equal(fmtTime(0), "0:00");
  assert.equal(fmtTime(59_999), "0:59");
  assert.equal(fmtTime(61_000), "1:01");
  assert.equal(fmtTime(3_600_000), "60:00");
  assert.equal(fmtTime(-5), "0:00");
});

test("search folds case and diacritics", () => {
  assert.equal(fold("Lucía ÑANDÚ"), "lucia nandu");
  const leads = [
    { id: 1, name: "Lucía Fernández", company: "Café Sol" },
    { id: 2, name: "Aiko Tanaka", company: "Tanaka Design" },
    { id: 3, name: "Luca Rossi", company: null },
  ];
  assert.deepEqual(matchLeads(leads, "luc").map((l) => l.id), [1, 3]);
  assert.deepEqual(matchLeads(leads, "cafe").map((l) => l.id), [1]);
  assert.deepEqual(matchLeads(leads, "  "), []);
  assert.deepEqual(matchLeads(leads, "a", 2).map((l) => l.id), [1, 2]);
});

test("snippets keep their text and mark the matches", () => {
  assert.deepEqual(snippetParts("send [pricing] by [WhatsApp]…"), [
    { text: "send ", mark: false },
    { text: "pricing", mark: true },
    { text: " by ", mark: false },
    { text: "WhatsApp", mark: true },
    { text: "…", mark: false },
  ]);
  assert.deepEqual(snippetParts("no match"), [{ text: "no match", mark: false }]);
  // Text that only looks like markup stays text: the caller builds text nodes.
  assert.deepEqual(snippetParts("<b>[x]</b>").map((p) => p.text), ["<b>", "x", "</b>"]);
});

test("the sync line says online/offline, what is pending and what is left to upload", () => {
  assert.equal(syncText({ online: true, pending: 0, bytes_left: 0 }), "online · all synced");
  assert.equal(
    syncText({ online: false, pending: 4, bytes_left: 150_000 }),
    "offline · 4 pending · 147 KiB of recordings to upload",
  );
});

test("a call's line names the other side, length, end and quality", () => {
  const call = {
    remote: "echo", direction: "OUTBOUND", duration_ms: 8_400, end_reason: "local_hangup",
    quality: { mos: 4.431, level: "excellent" },
  };
  assert.equal(callLine(call), "Call to echo test · 0:08 · local hangup · MOS 4.43 (excellent)");
  assert.equal(
    callLine({ remote: "+34600000000", direction: "INBOUND", duration_ms: null, end_reason: "no_answer", quality: null }),
    "Call from +34600000000 · 0:00 · no answer",
  );
});

test("upload progress rounds down and never divides by zero", () => {
  assert.equal(uploadLabel({ uploaded: true, bytes: 10, uploaded_bytes: 10 }), "recording uploaded");
  assert.equal(uploadLabel({ uploaded: false, bytes: 1000, uploaded_bytes: 999 }), "recording uploading 99 %");
  assert.equal(uploadLabel({ uploaded: false, bytes: 0, uploaded_bytes: 0 }), "recording uploading 0 %");
});

test("quality hover text, with and without RTT", () => {
  const q = { jitter_ms: 0.74, packet_loss_pct: 0, rtt_ms: 1.2, mos: 4.43 };
  assert.equal(qualityTitle(q), "jitter 0.7 ms · loss 0.0 % · RTT 1 ms · MOS 4.43");
  assert.equal(qualityTitle({ ...q, rtt_ms: null }), "jitter 0.7 ms · loss 0.0 % · RTT - · MOS 4.43");
  assert.equal(
    qualityTitle({ ...q, jitter_buffer_ms: 12.4 }),
    "jitter 0.7 ms · loss 0.0 % · RTT 1 ms · buffer 12 ms · MOS 4.43",
  );
  // 5 % of packets lost, 0.4 % of the audio concealed after FEC and RED.
  assert.equal(
    qualityTitle({ ...q, packet_loss_pct: 5, concealed_pct: 0.4 }),
    "jitter 0.7 ms · loss 5.0 % · concealed 0.4 % · RTT 1 ms · MOS 4.43",
  );
});

test("mic warnings: low unless muted, clipping always", () => {
  assert.deepEqual(micWarnings({ low: true, clip: false }, false), ["low"]);
  assert.deepEqual(micWarnings({ low: true, clip: false }, true), []);
  assert.deepEqual(micWarnings({ low: false, clip: true }, true), ["clip"]);
});

test("the MOS graph spans the box: 4.5 at the top, 1 at the bottom, clamped", () => {
  const pts = mosPoints(
    [{ t_s: 1, mos: 4.5 }, { t_s: 2, mos: 2.75 }, { t_s: 3, mos: 0.5 }, { t_s: 5, mos: 9 }],
    100,
    35,
  );
  assert.deepEqual(pts.map((p) => p.x), [0, 25, 50, 100]);
  assert.deepEqual(pts.map((p) => Math.round(p.y * 100) / 100), [0, 17.5, 35, 0]);
  assert.deepEqual(mosPoints([], 100, 35), []);
  assert.deepEqual(mosPoints([{ t_s: 7, mos: 4.5 }], 100, 35), [{ x: 0, y: 0 }]);
});

test("last activity reads as time ago", () => {
  const now = Date.UTC(2026, 11, 1, 12, 0, 0);
  assert.equal(fmtAgo(now - 5_000, now), "just now");
  assert.equal(fmtAgo(now + 5_000, now), "just now");
  assert.equal(fmtAgo(now - 5 * 60_000, now), "5 min ago");
  assert.equal(fmtAgo(now - 3 * 3_600_000, now), "3 h ago");
  assert.equal(fmtAgo(now - 30 * 3_600_000, now), "yesterday");
  assert.equal(fmtAgo(now - 4 * 86_400_000, now), "4 days ago");
  assert.equal(fmtAgo(Date.UTC(2026, 9, 3, 9), now), "2026-10-03");
});

test("lead filters keep what they say, in order", () => {
  const row = (name, unread, pending, last) => ({
    lead: { id: name, name, company: null }, unread, pending, last_activity_ms: last, last_activity: last ? "call" : null,
  });
  const rows = [row("a", 2, 0, 10), row("b", 0, 1, 5), row("c", 0, 0, null), row("d", 1, 1, 1)];
  const names = (f) => filterLeads(rows, f).map((r) => r.lead.name).join("");
  assert.equal(names("all"), "abcd");
  assert.equal(names("unread"), "ad");
  assert.equal(names("pending"), "bd");
  assert.equal(names("new"), "c");
  assert.equal(names("bogus"), "abcd");
  // The open lead stays whatever the filter.
  assert.equal(filterLeads(rows, "unread", "c").map((r) => r.lead.name).join(""), "acd");
  const now = 10 + 2 * 3_600_000;
  assert.equal(leadDetail({ ...rows[0], lead: { name: "a", company: "Sol" } }, now), "Sol · call · 2 h ago");
  assert.equal(leadDetail(rows[2], now), "no contact yet");
});

test("uploads show progress and say why they wait", () => {
  const rec = { uploaded: false, bytes: 1000, uploaded_bytes: 250 };
  assert.equal(uploadFraction(rec), 0.25);
  assert.equal(uploadFraction({ ...rec, bytes: 0 }), 0);
  assert.equal(uploadFraction({ ...rec, uploaded: true }), 1);
  assert.equal(uploadLabel(rec), "recording uploading 25 %");
  assert.equal(uploadLabel(rec, { online: true, last_error: null }), "recording uploading 25 %");
  assert.match(uploadLabel(rec, { online: false }), /paused at 25 %.*server is back/);
  assert.match(uploadLabel(rec, { online: true, last_error: "500" }), /failed at 25 %: retrying/);
  assert.equal(uploadLabel({ ...rec, uploaded: true }, { online: false }), "recording uploaded");
});

test("errors say what happened and what to do", () => {
  assert.equal(errorText("boom"), "boom");
  const lost = errorText({ code: "audio.device_lost", message: "capture device vanished" });
  assert.match(lost, /^capture device vanished \(audio.device_lost\)\. .*plug it back in/);
  assert.match(errorText({ code: "network", message: "connection refused" }), /server is unreachable/);
  assert.match(errorText({ code: "sync.conflict", message: "x" }), /retry automatically/);
  assert.equal(errorText({ code: "zzz.unknown", message: "odd" }), "odd (zzz.unknown)");
});

// A parent with DOM's child-list semantics (insertBefore moves a node that is already
// a child), recording every change.
function fakeParent(names) {
  const parent = { kids: [], log: [] };
  const node = (name) => ({ name, get nextSibling() { const k = parent.kids; return k[k.indexOf(this) + 1] ?? null; } });
  Object.defineProperty(parent, "firstChild", { get() { return this.kids[0] ?? null; } });
  parent.insertBefore = (n, ref) => {
    parent.log.push(`insert ${n.name}`);
    const at = parent.kids.indexOf(n);
    if (at >= 0) parent.kids.splice(at, 1);
    parent.kids.splice(ref ? parent.kids.indexOf(ref) : parent.kids.length, 0, n);
  };
  parent.removeChild = (n) => {
    parent.log.push(`remove ${n.name}`);
    parent.kids.splice(parent.kids.indexOf(n), 1);
  };
  parent.make = node;
  for (const name of names) parent.kids.push(node(name));
  return parent;
}

test("a redraw touches only the children that changed", () => {
  const p = fakeParent(["a", "b", "c"]);
  const [a, b, c] = p.kids;
  assert.equal(syncChildren(p, [a, b, c]), 0, "an unchanged list is left alone");
  const d = p.make("d");
  assert.equal(syncChildren(p, [b, c, d]), 2, "the oldest drops out, the newest is appended");
  assert.deepEqual(p.log, ["remove a", "insert d"]);
  assert.deepEqual(p.kids.map((k) => k.name), ["b", "c", "d"]);
  p.log = [];
  const older = p.make("older");
  syncChildren(p, [older, b, c, d]);
  assert.deepEqual(p.log, ["insert older"]);
  p.log = [];
  syncChildren(p, [older, c, b, d]);
  assert.deepEqual(p.kids.map((k) => k.name), ["older", "c", "b", "d"], "a reorder is followed");
  syncChildren(p, []);
  assert.deepEqual(p.kids, []);
});

test("an offered update installs only outside a call", () => {
  assert.equal(updateBanner(null, false).hidden, true);
  const offer = { version: "0.2.0", current_version: "0.1.0", notes: " Faster calls " };
  const idle = updateBanner(offer, false);
  assert.equal(idle.hidden, false);
  assert.equal(idle.text, "Version 0.2.0 is available (you have 0.1.0): Faster calls");
  assert.equal(idle.canInstall, true);
  const busy = updateBanner(offer, true);
  assert.equal(busy.canInstall, false);
  assert.match(busy.hint, /after the call/);
  assert.equal(updateBanner({ ...offer, notes: "" }, false).text, "Version 0.2.0 is available (you have 0.1.0)");
});

test("builds that do not update themselves stay quiet", () => {
  for (const code of ["update.no_key", "update.disabled", "update.not_packaged", "update.not_signed_in"]) {
    assert.equal(updateErrorShown({ code, message: "" }), false, code);
  }
  assert.equal(updateErrorShown({ code: "update.bad_signature", message: "" }), true);
  assert.equal(updateErrorShown({ code: "update.unreachable", message: "" }), true);
});

test("a call link says whom it is for and how long it stays open", () => {
  const now = 1_000_000;
  const link = { id: "l", url: "u", expires_at_ms: now + 125 * 60_000, lead_id: "a", single_use: true };
  assert.equal(linkLabel(link, "Ana", now), "For Ana · open 2 h 5 min more · one call");
  assert.equal(linkLabel({ ...link, single_use: false, expires_at_ms: now + 59 * 60_000 }, null, now), "No lead · open 59 min more");
  assert.equal(linkLabel({ ...link, expires_at_ms: now - 1 }, "Ana", now), "For Ana · open 0 min more · one call");
});
