// A stand-in for the Tauri bridge (`window.__TAURI__`), so that benches/page-footprint.py
// can measure the window's page alone in WebKitGTK's MiniBrowser: no Rust build, a run
// in a minute. It answers the commands the page sends at start and during an echo call
// with the shapes of ui/bindings.d.ts, and plays a call's events as the controller
// emits them: state, meter levels at 20 per second, a quality sample a second, the end,
// then one sync round that uploads the recording and has the call acknowledged. Query
// flags: `nolevels` (no meter events, as when the window is hidden), `detached` (calls
// not on the lead: the timeline does not grow).
(() => {
  const Q = new URLSearchParams(location.search);
  const listeners = {};
  const emit = (name, payload) => (listeners[name] || []).forEach((f) => f({ payload }));
  const status = { online: true, pending: 0, parked: [], bytes_left: 0, last_error: null, cursor: 1 };
  const leadOf = (i) => ({ id: `lead-${i}`, name: `Lead ${i}`, phone: "+15550000" + i, email: null, company: "Acme", assigned_user_id: null, version: 1, updated_at: Date.now() });
  const timeline = [];
  for (let i = 0; i < 4; i++) timeline.push({ item: { entity: "note", data: { id: `n${i}`, lead_id: "lead-0", call_id: null, author_id: "u", body: `Note ${i} about the lead`, deleted: false, version: 1, updated_at: Date.now() } }, pending: false, recording: null });
  let seq = 0, call = null, levelsTimer = null, qTimer = null;
  const addCall = () => {
    const id = `call-${seq++}`;
    const rec = { path: `/tmp/${id}.opus`, local: true, duration_ms: 1000, bytes: 20000, uploaded_bytes: 0, uploaded: false };
    const data = { id, lead_id: "lead-0", direction: "OUTBOUND", agent_id: "u", remote: "echo", started_at_ms: Date.now() - 2000, answered_at_ms: Date.now() - 1500, ended_at_ms: Date.now(), duration_ms: 1500, end_reason: "hung_up", disposition: null, quality: { mos: 4.3, jitter_ms: 1.2, packet_loss_pct: 0, rtt_ms: 1, level: "excellent" }, has_recording: true, version: 0 };
    const e = { item: { entity: "call", data }, pending: true, recording: rec };
    timeline.push(e);
    return e;
  };
  addCall(); timeline[timeline.length - 1].pending = false; timeline[timeline.length - 1].recording.uploaded = true;
  const reading = () => ({ time_ms: Date.now(), level: 40 + Math.random() * 30, rms_dbfs: -30, peak_dbfs: -12, low: false, clip: false });
  const commands = {
    list_devices: () => [{ id: "in", name: "micfeed", direction: "input", is_default: true, sample_rates: [48000], channels: [1] }, { id: "out", name: "speaker", direction: "output", is_default: true, sample_rates: [48000], channels: [2] }],
    account: () => ({ display_name: "Ana", email: "ana@example.com", server_url: "http://127.0.0.1:1", status: { ...status } }),
    sign_in_defaults: () => ({ server_url: null, lock_server_url: false }),
    leads: () => [0, 1, 2].map((i) => ({ lead: leadOf(i), last_activity_ms: Date.now(), last_activity: "call", unread: 0, pending: status.pending })),
    timeline: ({ lead }) => (lead === "lead-0" ? JSON.parse(JSON.stringify(timeline)) : []),
    recording_waveform: ({ buckets }) => ({ duration_ms: 1500, bucket_ms: 10, tracks: [0, 1].map(() => Array.from({ length: buckets }, () => Math.random())) }),
    search: () => [],
    start_call: () => {
      call = Date.now();
      setTimeout(() => emit("call-event", { event: "state", state: { state: "ringing_out" } }), 50);
      setTimeout(() => emit("call-event", { event: "state", state: { state: "connected" } }), 250);
      if (!Q.has("nolevels")) levelsTimer = setInterval(() => emit("call-levels", { mic: reading(), remote: reading() }), 50);
      qTimer = setInterval(() => emit("call-event", { event: "quality", t_s: 1, jitter_ms: 1, packet_loss_pct: 0, packet_loss_total_pct: 0, rtt_ms: 1, send_kbps: 40, recv_kbps: 40, mos: 4.3, level: "excellent", jitter_buffer_ms: 20, concealed_pct: 0 }), 1000);
      return null;
    },
    call_command: ({ command }) => {
      if (command !== "hangup") return null;
      clearInterval(levelsTimer); clearInterval(qTimer);
      emit("call-event", { event: "state", state: { state: "ended", reason: "hung_up" } });
      const e = Q.has("detached") ? { item: { data: { id: "x", quality: null } }, recording: { path: "x" } } : addCall();
      status.pending = 1; status.bytes_left = 20000;
      setTimeout(() => emit("call-ended", { call_id: e.item.data.id, end_reason: "hung_up", normal: true, duration_ms: 1500, quality: e.item.data.quality, recording: e.recording.path, saved_to_store: true }), 10);
      // As src-tauri's call task: `call-ended`, one sync round (it uploads the recording
      // and the server acknowledges the call), then `sync-changed`.
      setTimeout(() => {
        if (!Q.has("detached")) {
          e.recording.uploaded_bytes = e.recording.bytes;
          e.recording.uploaded = true;
          e.pending = false;
          e.item.data.version = 1;
        }
        status.pending = 0;
        status.bytes_left = 0;
        emit("sync-changed", null);
      }, 300);
      return null;
    },
  };
  const invoke = async (cmd, args) => {
    const f = commands[cmd];
    return f ? f(args || {}) : null;
  };
  const listen = async (name, f) => { (listeners[name] = listeners[name] || []).push(f); return () => {}; };
  window.__TAURI__ = { core: { invoke }, event: { listen } };
  window.__TAURI_INTERNALS__ = { invoke };
})();
