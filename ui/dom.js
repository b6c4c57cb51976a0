// The DOM and the Tauri bridge, shared by every panel: element lookup, text that is set
// only when it changed, and where errors are shown.
import { errorText } from "./logic.js";

// Typed by env.d.ts over the generated bindings.d.ts: `tsc -p ui` checks every command
// name, argument and result, and every event payload, against the Rust types.
export const { invoke } = window.__TAURI__.core;
export const { listen } = window.__TAURI__.event;

/** The element with `id` (any: the DOM's own types are not the point of the check). */
export const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
/** The elements matching `sel`, as an array of HTML elements. */
export const $$ = (/** @type {string} */ sel) => /** @type {HTMLElement[]} */ ([...document.querySelectorAll(sel)]);

/** An error as the agent reads it (a typed error's message, or the text). */
export const errText = errorText;

/**
 * Sets an element's text only when it differs: assigning the same text still replaces
 * the text node and lays the line out again.
 * @param {Element} el @param {string} text
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Shows `e` in the settings panel's error line (devices, meter, preferences). */
export function showError(e) {
  const el = $("error");
  setText(el, errorText(e));
  el.hidden = false;
}

/** Shows `e` above the leads and the timeline. */
export function showWorkError(e) {
  setText($("work-error"), errText(e));
  $("work-error").hidden = false;
}

/** Copies `text` to the clipboard; false where the webview grants no access. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
