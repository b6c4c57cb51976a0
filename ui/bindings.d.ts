// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs): do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test --workspace --lib bindings

/**
 * Error shape the UI receives.
 */
export type UiError = { 
/**
 * Stable code, e.g. `audio.device_not_found`.
 */
code: string, 
/**
 * Human-readable message.
 */
message: string, };

/**
 * What the header shows.
 */
export type AccountView = { 
/**
 * Name shown to colleagues.
 */
display_name: string, 
/**
 * Account e-mail.
 */
email: string, 
/**
 * Server base URL.
 */
server_url: string, 
/**
 * Online/offline, pending and parked entries, recording bytes left.
 */
status: Status, };

/**
 * `config.json` in the system folder (see [`AdminConfig::system_path`]).
 */
export type AdminConfig = { 
/**
 * The server's base URL, e.g. `https://softphone.example.com`; `None` = the agent
 * types it.
 */
server_url: string | null, 
/**
 * The agent cannot change the server URL (only with `server_url` set).
 */
lock_server_url: boolean, 
/**
 * Call recording; `None`: the agent chooses (on by default).
 */
recording: RecordingPolicy | null, 
/**
 * Recording bitrate per track, kbit/s (6-256), fixed for the agent; `None`: the
 * agent chooses (32 by default).
 */
recording_bitrate_kbps: number | null, };

/**
 * Call recording under an administrator's policy.
 */
export type RecordingPolicy = "off" | "on" | "forced";

/**
 * Devices and recording for calls (the dialer's and the settings' choices).
 */
export type CallPrefs = { 
/**
 * Capture device id from `list_devices`; `None` = the system default.
 */
input: string | null, 
/**
 * Playback device id (also rings there); `None` = the system default.
 */
output: string | null, 
/**
 * Record calls (agent left, remote right).
 */
record: boolean, 
/**
 * Recording bitrate per track, kbit/s (6-256; `None` = the recorder's default, 32).
 */
bitrate_kbps: number | null, };

/**
 * What the dialer asks for.
 */
export type DialRequest = { 
/**
 * `echo`, a colleague's name or id, or a browser link id.
 */
target: string, 
/**
 * The lead the call is about: the call record is stored and synced with it.
 */
lead: string | null, 
/**
 * Record both directions (agent left, remote right) to the profile's `recordings/`.
 */
record: boolean, 
/**
 * Capture device id from `list_devices`; `None` = the system default.
 */
input: string | null, 
/**
 * Playback device id from `list_devices`; `None` = the system default.
 */
output: string | null, };

/**
 * What the window asks of the call in progress.
 */
export type CallAction = "accept" | "reject" | "mute" | "unmute" | "hold" | "resume" | "hangup" | "dtmf";

/**
 * What the window shows when a call ends.
 */
export type CallEnded = { 
/**
 * Call id.
 */
call_id: string, 
/**
 * Stable end reason, e.g. `local_hangup`, `remote_hangup`, `failed`.
 */
end_reason: string, 
/**
 * True when either side hung up (not a failure).
 */
normal: boolean, 
/**
 * Talk time, ms.
 */
duration_ms: number, 
/**
 * Mean MOS, jitter (ms), loss (%), RTT (ms) and level; absent when no media came.
 */
quality: CallQuality | null, 
/**
 * The recording file, when one was made.
 */
recording: string | null, 
/**
 * Whether the record went to the store (synced) or beside the recording.
 */
saved_to_store: boolean, };

/**
 * What the call panel shows, as the call (not the window) knows it: sent whenever it
 * changes, so a command the call refused never shows as done.
 */
export type CallView = { 
/**
 * Call id.
 */
call_id: string, 
/**
 * True for a call the agent placed.
 */
outgoing: boolean, 
/**
 * The call's state (`dialing`, `ringing_in`, `connected`, `on_hold`, …).
 */
state: CallState, 
/**
 * The microphone is muted.
 */
muted: boolean, 
/**
 * The call is on hold.
 */
held: boolean, 
/**
 * When media first connected, Unix ms (the panel's timer counts from it); `None`
 * before.
 */
connected_at_ms: number | null, };

/**
 * The latest mic and remote levels, sent together as one event per frame: each
 * message to the webview costs a script evaluation there, and one per meter doubled
 * the web process's share of a call's CPU (docs/benchmarks.md).
 */
export type Levels = { 
/**
 * The agent's microphone (after mute), when it reported since the last frame.
 */
mic: MeterReading | null, 
/**
 * The remote audio, when it reported since the last frame.
 */
remote: MeterReading | null, };

/**
 * What the window shows while a call rings in.
 */
export type IncomingCall = { 
/**
 * Call id.
 */
call_id: string, 
/**
 * The caller's user id.
 */
from: string, 
/**
 * The caller's display name.
 */
from_name: string, };

export type PlaybackUpdate = { call_id: string, } & ({ "event": "position", 
/**
 * ms from the start of the recording.
 */
position_ms: number, 
/**
 * Playable length, ms.
 */
duration_ms: number, } | { "event": "finished", 
/**
 * ms from the start of the recording.
 */
position_ms: number, 
/**
 * True when [`Playback::stop`] ended it.
 */
stopped: boolean, } | { "event": "error", 
/**
 * Stable code, e.g. `audio.device_lost`, `recorder.codec`.
 */
code: string, 
/**
 * Human-readable message.
 */
message: string, });

/**
 * An update the server offers, as the window shows it.
 */
export type UpdateOffer = { 
/**
 * The offered version, semver.
 */
version: string, 
/**
 * This app's version.
 */
current_version: string, 
/**
 * Release notes.
 */
notes: string, };

/**
 * A browser call link. While the prospect has the page open, the agent dials `id`
 * like a colleague's user id.
 */
export type CallLink = { 
/**
 * The link's id: the dial target.
 */
id: string, 
/**
 * The page to send to the prospect (absolute when the request had a Host header).
 */
url: string, 
/**
 * Expiry, Unix ms.
 */
expires_at_ms: number, 
/**
 * The lead it is for.
 */
lead_id: string | null, 
/**
 * Good for one answered call.
 */
single_use: boolean, };

/**
 * One device as listed by `softphone devices` and the device picker.
 */
export type DeviceInfo = { 
/**
 * Stable id (`host:device`, cpal's `DeviceId`) to pass back to open the device.
 */
id: string, 
/**
 * Human-readable name.
 */
name: string, 
/**
 * Capture or playback. A headset appears once per direction.
 */
direction: DeviceDirection, 
/**
 * True for the system default in this direction.
 */
is_default: boolean, 
/**
 * Supported sample rates in Hz (common rates inside the supported ranges).
 */
sample_rates: Array<number>, 
/**
 * Supported channel counts.
 */
channels: Array<number>, };

/**
 * Whether a listed device captures or plays.
 */
export type DeviceDirection = "input" | "output";

/**
 * One meter update, as sent to the UI and printed by `softphone meter --json`.
 */
export type MeterReading = { 
/**
 * Stream time at the end of the last frame included, ms since the meter started.
 */
time_ms: number, 
/**
 * Smoothed level on the 0-100 scale.
 */
level: number, 
/**
 * RMS over the frames since the previous reading, dBFS.
 */
rms_dbfs: number, 
/**
 * Highest absolute sample since the previous reading, dBFS.
 */
peak_dbfs: number, 
/**
 * Low-level warning.
 */
low: boolean, 
/**
 * Clipping flag.
 */
clip: boolean, };

/**
 * Events from a running session.
 */
export type Event = { "event": "started", input: string, } | { "event": "meter" } & MeterReading | { "event": "warning", code: string, message: string, } | { "event": "device_error", code: string, message: string, };

/**
 * What the engine reports while a call runs.
 */
export type CallEvent = { "event": "state", 
/**
 * New state.
 */
state: CallState, } | { "event": "quality" } & QualitySample | { "event": "mic_level" } & MeterReading | { "event": "remote_level" } & MeterReading | { "event": "muted", 
/**
 * True while muted.
 */
muted: boolean, } | { "event": "dtmf_received", 
/**
 * 0-9, *, #, A-D.
 */
digit: string, } | { "event": "notice", 
/**
 * Stable code, e.g. `call.refused`, `audio.device_lost`.
 */
code: string, 
/**
 * Detail.
 */
message: string, };

/**
 * Where a call is.
 */
export type CallState = { "state": "idle" } | { "state": "dialing" } | { "state": "ringing_out" } | { "state": "ringing_in" } | { "state": "connected" } | { "state": "on_hold" } | { "state": "ended", 
/**
 * Why.
 */
reason: EndReason, };

/**
 * Why a call ended. `as_str` values are what the call record's `end_reason` holds.
 */
export type EndReason = { "reason": "local_hangup" } | { "reason": "remote_hangup" } | { "reason": "cancelled" } | { "reason": "rejected" } | { "reason": "no_answer" } | { "reason": "busy" } | { "reason": "offline" } | { "reason": "not_found" } | { "reason": "answered_elsewhere" } | { "reason": "network_lost" } | { "reason": "failed", "detail": string };

/**
 * One point of a call's quality time series (one per second).
 */
export type QualitySample = { 
/**
 * Seconds since the call connected.
 */
t_s: number, 
/**
 * Interarrival jitter, ms.
 */
jitter_ms: number, 
/**
 * Packet loss in the last interval, %.
 */
packet_loss_pct: number, 
/**
 * Packet loss since the call connected, %.
 */
packet_loss_total_pct: number, 
/**
 * Round-trip time from the latest receiver report, ms (`None` until one arrived).
 */
rtt_ms: number | null, 
/**
 * Sent audio bitrate (RTP payload), kbit/s.
 */
send_kbps: number, 
/**
 * Received audio bitrate (RTP payload), kbit/s.
 */
recv_kbps: number, 
/**
 * MOS estimate, 1-4.5.
 */
mos: number, 
/**
 * Seed 001 level.
 */
level: QualityLevel, 
/**
 * Mean time the packets played in the last interval waited in the jitter buffer,
 * ms (W3C webrtc-stats: Δ`jitterBufferDelay` / Δ`jitterBufferEmittedCount`).
 * `None` when no packet was played in the interval, and in series recorded before
 * this field existed.
 */
jitter_buffer_ms: number | null, 
/**
 * Share of the 20 ms slots played in the last interval that were concealed (PLC,
 * including slots stretched to deepen the buffer): the loss that in-band FEC and
 * RFC 2198 copies did not recover, % (W3C webrtc-stats: Δ`concealedSamples` /
 * Δ`totalSamplesReceived`). `None` when nothing played in the interval, and in
 * series recorded before this field existed.
 */
concealed_pct: number | null, };

/**
 * Seed 001 quality levels.
 */
export type QualityLevel = "excellent" | "good" | "fair" | "poor";

/**
 * Quality summary of a call (W3C webrtc-stats names; MOS from the simplified E-model in
 * DESIGN.md; levels per seed 001).
 */
export type CallQuality = { 
/**
 * Mean MOS estimate, 1-4.5.
 */
mos: number, 
/**
 * Mean interarrival jitter, ms.
 */
jitter_ms: number, 
/**
 * Packets lost over the call, %.
 */
packet_loss_pct: number, 
/**
 * Mean round-trip time, ms.
 */
rtt_ms: number, 
/**
 * `excellent`, `good`, `fair` or `poor`.
 */
level: string, };

/**
 * An agent's availability.
 */
export type Presence = "available" | "busy" | "wrap_up" | "offline";

/**
 * One row of the lead list.
 */
export type LeadOverview = { 
/**
 * The lead.
 */
lead: Lead, 
/**
 * When the newest note, message or call of this lead was created (Unix ms, from
 * its UUIDv7 id); `None` when there is none yet.
 */
last_activity_ms: number | null, 
/**
 * What that newest entry is: `note`, `message` or `call`.
 */
last_activity: string | null, 
/**
 * Inbound messages newer than the read mark.
 */
unread: number, 
/**
 * Notes, messages and calls created here and not yet on the server.
 */
pending: number, };

/**
 * A lead (prospect), as stored by the server.
 */
export type Lead = { 
/**
 * Client-generated UUIDv7.
 */
id: string, 
/**
 * Full name.
 */
name: string, 
/**
 * Phone number, E.164. Personal data: the server never logs it.
 */
phone: string | null, 
/**
 * E-mail.
 */
email: string | null, 
/**
 * Company.
 */
company: string | null, 
/**
 * Agent the lead is assigned to; agents see only their own leads.
 */
assigned_user_id: string | null, 
/**
 * Server version, +1 per accepted change (last writer wins).
 */
version: number, 
/**
 * Last change, Unix seconds.
 */
updated_at: number, };

/**
 * One entry of [`Agent::timeline`].
 */
export type TimelineEntry = { 
/**
 * The note, message or call (`{"entity": "note", "data": {…}}`).
 */
item: Change, 
/**
 * True until the server has acknowledged it (version 0).
 */
pending: boolean, 
/**
 * For a call recorded on this device: the file and its upload progress.
 */
recording: RecordingState | null, };

/**
 * A call's local recording and its upload (tus) progress.
 */
export type RecordingState = { 
/**
 * The Ogg Opus file.
 */
path: string, 
/**
 * False when the file was pruned after upload (it plays from the server then).
 */
local: boolean, 
/**
 * Duration, ms.
 */
duration_ms: number, 
/**
 * Size, bytes.
 */
bytes: number, 
/**
 * Bytes the server has acknowledged.
 */
uploaded_bytes: number, 
/**
 * True once the server confirmed the whole file (sha256 checked).
 */
uploaded: boolean, };

/**
 * One entry of the changes feed: the current state of a changed row.
 */
export type Change = { "entity": "lead", "data": Lead } | { "entity": "note", "data": Note } | { "entity": "contact", "data": Contact } | { "entity": "conversation", "data": Conversation } | { "entity": "message", "data": Message } | { "entity": "call", "data": Call } | { "entity": "lead_revoked", "data": LeadRevoked };

/**
 * Body of [`Change::LeadRevoked`].
 */
export type LeadRevoked = { 
/**
 * The lead.
 */
lead_id: string, };

/**
 * A note: its own message (channel INTERNAL_NOTE) on a lead, optionally tied to a call.
 */
export type Note = { 
/**
 * Client-generated UUIDv7.
 */
id: string, 
/**
 * The lead.
 */
lead_id: string, 
/**
 * The call it was taken during, if any.
 */
call_id: string | null, 
/**
 * Author.
 */
author_id: string, 
/**
 * Text.
 */
body: string, 
/**
 * True once deleted (kept as a tombstone so every device learns of it).
 */
deleted: boolean, 
/**
 * Server version, +1 per accepted change.
 */
version: number, 
/**
 * Last change, Unix seconds.
 */
updated_at: number, };

/**
 * A person reachable for a lead (a lead is the sales opportunity; a company lead may
 * have several contacts).
 */
export type Contact = { 
/**
 * Client-generated UUIDv7.
 */
id: string, 
/**
 * The lead.
 */
lead_id: string, 
/**
 * Full name.
 */
name: string, 
/**
 * Phone number, E.164. Personal data: the server never logs it.
 */
phone: string | null, 
/**
 * E-mail.
 */
email: string | null, 
/**
 * WhatsApp id (`wa_id`, the number without `+`), when known.
 */
wa_id: string | null, 
/**
 * Server version, +1 per accepted change.
 */
version: number, 
/**
 * Last change, Unix seconds.
 */
updated_at: number, };

/**
 * A thread with a lead on one channel.
 */
export type Conversation = { 
/**
 * Client-generated UUIDv7.
 */
id: string, 
/**
 * The lead.
 */
lead_id: string, 
/**
 * The contact on the other side, if known.
 */
contact_id: string | null, 
/**
 * Channel.
 */
channel: Channel, 
/**
 * Id at the provider (e.g. the WhatsApp `wa_id` of the thread).
 */
external_id: string | null, 
/**
 * Open or closed.
 */
status: ConversationStatus, 
/**
 * Newest message time, Unix seconds; kept by the server as messages arrive.
 */
last_message_at: number | null, 
/**
 * Inbound messages not yet read.
 */
unread_count: number, 
/**
 * Agent handling the thread.
 */
assigned_user_id: string | null, 
/**
 * Server version, +1 per accepted change.
 */
version: number, 
/**
 * Last change, Unix seconds.
 */
updated_at: number, };

/**
 * Whether a conversation needs attention.
 */
export type ConversationStatus = "OPEN" | "CLOSED";

/**
 * A message in a conversation.
 */
export type Message = { 
/**
 * Client-generated UUIDv7.
 */
id: string, 
/**
 * The conversation.
 */
conversation_id: string, 
/**
 * The conversation's lead (denormalised for visibility and search).
 */
lead_id: string, 
/**
 * Direction.
 */
direction: Direction, 
/**
 * Channel (the conversation's).
 */
channel: Channel, 
/**
 * Provider message type: `text`, `audio`, `image`, `video`, `document`, `template`.
 */
kind: string, 
/**
 * Text, or a caption.
 */
body: string | null, 
/**
 * Delivery state.
 */
status: MessageStatus, 
/**
 * Media location (our signed URL or the provider's media id).
 */
media_url: string | null, 
/**
 * Media MIME type, e.g. `audio/ogg`.
 */
media_mime_type: string | null, 
/**
 * Provider id (WhatsApp `wamid.…`), unique per organisation, for dedup.
 */
provider_message_id: string | null, 
/**
 * Provider payload as received, for audit.
 */
payload: JsonValue | null, 
/**
 * Call this message belongs to, if any.
 */
call_id: string | null, 
/**
 * Sending agent (outbound and internal messages).
 */
author_id: string | null, 
/**
 * Sent, Unix seconds.
 */
sent_at: number | null, 
/**
 * Delivered, Unix seconds.
 */
delivered_at: number | null, 
/**
 * Read, Unix seconds.
 */
read_at: number | null, 
/**
 * Server version, +1 per accepted change.
 */
version: number, 
/**
 * Last change, Unix seconds.
 */
updated_at: number, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * Who a message came from.
 */
export type Direction = "INBOUND" | "OUTBOUND" | "INTERNAL";

/**
 * Channel of a conversation or message.
 */
export type Channel = "WHATSAPP" | "EMAIL" | "SMS" | "WEBCHAT" | "INTERNAL_NOTE" | "CALL";

/**
 * Delivery state of a message, in the order it only moves forward
 * (`FAILED` can replace any state).
 */
export type MessageStatus = "RECEIVED" | "SENT" | "DELIVERED" | "READ" | "FAILED";

/**
 * A call record.
 */
export type Call = { 
/**
 * Client-generated UUIDv7 (also the recording's key).
 */
id: string, 
/**
 * The lead, when the call was with one.
 */
lead_id: string, 
/**
 * Placed or taken.
 */
direction: CallDirection, 
/**
 * The agent.
 */
agent_id: string, 
/**
 * The other party: a phone number (E.164), a user id, `echo`, or a browser link id.
 */
remote: string, 
/**
 * Dial or ring start, Unix ms.
 */
started_at_ms: number, 
/**
 * Answer, Unix ms.
 */
answered_at_ms: number | null, 
/**
 * End, Unix ms.
 */
ended_at_ms: number | null, 
/**
 * Talk time, ms (answer to end).
 */
duration_ms: number | null, 
/**
 * `local_hangup`, `remote_hangup`, `rejected`, `no_answer`, `busy`, `failed`,
 * `network_lost`, …
 */
end_reason: string | null, 
/**
 * The agent's outcome tag (e.g. `interested`, `callback`, `not_interested`).
 */
disposition: string | null, 
/**
 * Quality summary.
 */
quality: CallQuality | null, 
/**
 * True once the recording is uploaded (`GET /api/v1/recordings/{id}`).
 */
has_recording: boolean, 
/**
 * Server version, +1 per accepted change.
 */
version: number, 
/**
 * Last change, Unix seconds.
 */
updated_at: number, };

/**
 * Whether the agent placed or took the call.
 */
export type CallDirection = "OUTBOUND" | "INBOUND";

/**
 * Peaks of each track of a recording, for drawing.
 */
export type Waveform = { 
/**
 * Playable length, ms.
 */
duration_ms: number, 
/**
 * Length each value covers, ms.
 */
bucket_ms: number, 
/**
 * One row per channel (a dual-track call: `[agent (left), remote (right)]`), each a
 * peak level per bucket from 0 ([`WAVEFORM_FLOOR_DBFS`] or below) to 1 (0 dBFS),
 * linear in dB so quiet speech stays visible.
 */
tracks: Array<Array<number>>, };

/**
 * What a playback reports.
 */
export type PlaybackEvent = { "event": "position", 
/**
 * ms from the start of the recording.
 */
position_ms: number, 
/**
 * Playable length, ms.
 */
duration_ms: number, } | { "event": "finished", 
/**
 * ms from the start of the recording.
 */
position_ms: number, 
/**
 * True when [`Playback::stop`] ended it.
 */
stopped: boolean, } | { "event": "error", 
/**
 * Stable code, e.g. `audio.device_lost`, `recorder.codec`.
 */
code: string, 
/**
 * Human-readable message.
 */
message: string, };

/**
 * One match.
 */
export type Hit = { 
/**
 * `note` or `message`.
 */
entity: string, 
/**
 * Record id.
 */
id: string, 
/**
 * Its lead.
 */
lead_id: string, 
/**
 * Text with the match wrapped in `[` `]`.
 */
snippet: string, };

/**
 * What one sync round did.
 */
export type SyncRound = { 
/**
 * The push pass.
 */
push: PushReport, 
/**
 * Changes applied by the pull, or why it failed.
 */
pull: { Ok : PullReport } | { Err : string }, 
/**
 * Status after the round.
 */
status: Status, };

/**
 * What a push pass did.
 */
export type PushReport = { 
/**
 * Entries the server accepted.
 */
pushed: number, 
/**
 * Entries parked (refused as invalid) during this pass.
 */
parked: number, 
/**
 * The error that stopped the pass, if one did.
 */
stopped_by: string | null, };

/**
 * What a pull did.
 */
export type PullReport = { 
/**
 * Changes applied locally.
 */
applied: number, 
/**
 * Pages fetched.
 */
pages: number, 
/**
 * Cursor after the pull.
 */
cursor: number, };

/**
 * For the UI and `softphone status`.
 */
export type Status = { 
/**
 * The last contact with the server worked.
 */
online: boolean, 
/**
 * Entries waiting (not parked).
 */
pending: number, 
/**
 * Parked entries: (seq, entity, reason).
 */
parked: Array<[number, string, string]>, 
/**
 * Recording bytes the server does not have yet.
 */
bytes_left: number, 
/**
 * The last error seen, if any.
 */
last_error: string | null, 
/**
 * Changes-feed cursor.
 */
cursor: number, };

/** Commands, `invoke(name, args)`: their arguments and what they resolve to. A
 * failing command rejects with a `UiError`. Argument names are camelCase (Tauri). */
export interface Commands {
  ui_ready: { args: Record<string, never>; ret: null };
  list_devices: { args: Record<string, never>; ret: DeviceInfo[] };
  start_meter: { args: { device: string | null }; ret: null };
  stop_meter: { args: Record<string, never>; ret: null };
  play_test_tone: { args: { output: string | null }; ret: null };
  account: { args: Record<string, never>; ret: AccountView | null };
  sign_in_defaults: { args: Record<string, never>; ret: AdminConfig };
  sign_in: { args: { server: string; email: string; password: string }; ret: AccountView };
  leads: { args: Record<string, never>; ret: LeadOverview[] };
  notes: { args: { lead: string }; ret: Note[] };
  write_note: { args: { lead: string; body: string }; ret: Note };
  search: { args: { query: string }; ret: Hit[] };
  sync_now: { args: Record<string, never>; ret: SyncRound };
  diagnostics: { args: Record<string, never>; ret: string };
  start_call: { args: { request: DialRequest }; ret: string };
  call_command: { args: { command: CallAction; digit?: string }; ret: null };
  set_call_prefs: { args: { prefs: CallPrefs }; ret: null };
  set_presence: { args: { status: Presence }; ret: null };
  meters_visible: { args: { visible: boolean }; ret: null };
  timeline: { args: { lead: string }; ret: TimelineEntry[] };
  recording_waveform: { args: { call: string; buckets: number }; ret: Waveform };
  play_recording: { args: { call: string; output: string | null; fromMs?: number | null }; ret: null };
  stop_playback: { args: Record<string, never>; ret: null };
  check_update: { args: Record<string, never>; ret: UpdateOffer | null };
  create_link: { args: { lead: string | null; singleUse: boolean }; ret: CallLink };
  links: { args: Record<string, never>; ret: CallLink[] };
  revoke_link: { args: { id: string }; ret: null };
  install_update: { args: Record<string, never>; ret: null };
}

/** Events the app emits, by name, with their payloads. */
export interface Events {
  meter: MeterReading;
  "meter-started": Event;
  "audio-error": Event;
  "call-event": CallEvent;
  "call-view": CallView;
  "call-levels": Levels;
  "call-ended": CallEnded;
  "incoming-call": IncomingCall;
  playback: PlaybackUpdate;
  "sync-changed": null;
  "messages-arrived": number;
  "presence-changed": Presence;
}
