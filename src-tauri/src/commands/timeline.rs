//! A lead's timeline (notes, messages, calls) and the call recordings in it: waveform
//! and playback, both done by `softphone-controller::player`.
//!
//! Events: `playback` (`PlaybackEvent` with the `call_id`): position every 100 ms, then
//! `finished` (or `error` first).

use super::AgentSlot;
use super::UiError;
use serde::Serialize;
use softphone_controller::agent::TimelineEntry;
use softphone_controller::player::{self, Playback, PlaybackEvent, Waveform};
use std::sync::Mutex;
use tauri::{AppHandle, Emitter, State};
use uuid::Uuid;

/// The recording playing now, if any.
#[derive(Default)]
pub struct PlayerSlot(Mutex<Option<(Uuid, Playback)>>);

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize, Clone)]
pub(crate) struct PlaybackUpdate {
    call_id: Uuid,
    #[serde(flatten)]
    event: PlaybackEvent,
}

fn no_recording(call: Uuid) -> UiError {
    UiError {
        code: "recording.not_local".into(),
        message: format!("the recording of call {call} is not on this device"),
    }
}

/// A lead's notes, messages and calls, oldest first, with pending marks and each call's
/// local recording and upload progress. Showing them marks the lead's messages read.
#[tauri::command]
pub fn timeline(slot: State<'_, AgentSlot>, lead: Uuid) -> Result<Vec<TimelineEntry>, UiError> {
    let agent = slot.get()?;
    let entries = agent.timeline(lead)?;
    agent.mark_read(lead)?;
    Ok(entries)
}

/// Peak levels of both tracks of a call's recording (`buckets` per track, 0-1 on a
/// 60 dB scale), for drawing its waveform.
///
/// Errors: `recording.not_local`, `recorder.format` / `recorder.codec` for a damaged file.
#[tauri::command]
pub async fn recording_waveform(
    slot: State<'_, AgentSlot>,
    call: Uuid,
    buckets: usize,
) -> Result<Waveform, UiError> {
    let path = slot
        .get()?
        .recording_path(call)?
        .ok_or(no_recording(call))?;
    // Decoding a long call takes a while.
    super::blocking(move || player::waveform(&path, buckets.min(4000))).await
}

/// Plays a call's recording (both tracks mixed) on `output` (device id; `None` = the
/// default) from `from_ms`, stopping whatever played before.
///
/// Errors: `recording.not_local`, `audio.device_*`, `recorder.*`.
#[tauri::command]
pub fn play_recording(
    app: AppHandle,
    agents: State<'_, AgentSlot>,
    player: State<'_, PlayerSlot>,
    call: Uuid,
    output: Option<String>,
    from_ms: Option<u64>,
) -> Result<(), UiError> {
    let path = agents
        .get()?
        .recording_path(call)?
        .ok_or(no_recording(call))?;
    let mut slot = player.0.lock().expect("player lock");
    if let Some((_, old)) = slot.take() {
        old.stop();
    }
    let mut playback = Playback::start(&path, output, from_ms.unwrap_or(0))?;
    let events = playback.take_events();
    std::thread::spawn(move || {
        for event in events.iter() {
            let _ = app.emit(
                "playback",
                PlaybackUpdate {
                    call_id: call,
                    event,
                },
            );
        }
    });
    *slot = Some((call, playback));
    Ok(())
}

/// Stops the recording playing now (no-op when none is).
#[tauri::command]
pub fn stop_playback(player: State<'_, PlayerSlot>) -> Result<(), UiError> {
    if let Some((_, p)) = player.0.lock().expect("player lock").take() {
        p.stop();
    }
    Ok(())
}
