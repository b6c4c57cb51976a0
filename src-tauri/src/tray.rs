//! The tray icon: show the window, set presence, quit. Agents keep the softphone in the
//! background all day; the tray is how they reach it without hunting for the window.

use crate::commands::call::{parse_presence, PhoneLine};
use std::sync::Arc;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{App, AppHandle, Emitter, Manager};

/// Builds the tray icon and its menu.
///
/// Errors: whatever the platform's tray reports (e.g. no tray library); the caller
/// logs it and runs without a tray.
pub fn build(app: &App) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, "show", "Show Agent Softphone", true, None::<&str>)?;
    let available = MenuItem::with_id(app, "presence:available", "Available", true, None::<&str>)?;
    let busy = MenuItem::with_id(app, "presence:busy", "Busy", true, None::<&str>)?;
    let wrap = MenuItem::with_id(app, "presence:wrap_up", "Wrap-up", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &show,
            &PredefinedMenuItem::separator(app)?,
            &available,
            &busy,
            &wrap,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Agent Softphone")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id.as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "show" => {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }
        "quit" => app.exit(0),
        _ => {
            if let Some(p) = id.strip_prefix("presence:").and_then(parse_presence) {
                if let Some(line) = app.try_state::<Arc<PhoneLine>>() {
                    line.set_presence(p);
                }
                // The header's selector follows.
                let _ = app.emit("presence-changed", id.trim_start_matches("presence:"));
            }
        }
    }
}
