// Views for narrow windows: one of call, leads, conversation and settings at a time,
// picked in the bar under the header or with Alt+1-4. Which sections a view shows, and
// that wide windows show them all side by side, is in style.css; this module only keeps
// `body[data-view]` and the bar's pressed button in step.
import { $ } from "./dom.js";

/** @typedef {"call" | "leads" | "conversation" | "settings"} View */
/** @type {View[]} */
const VIEWS = ["call", "leads", "conversation", "settings"];

/**
 * Shows `view` (in a narrow window; a wide one shows every view anyway).
 * @param {View} view
 */
export function showView(view) {
  document.body.dataset.view = view;
  for (const b of /** @type {NodeListOf<HTMLButtonElement>} */ (document.querySelectorAll("#views button"))) {
    b.setAttribute("aria-pressed", String(b.dataset.view === view));
  }
}

/**
 * The bar is there once an agent is signed in; signed out, no view applies.
 * @param {boolean} signedIn
 */
export function enableViews(signedIn) {
  $("views").hidden = !signedIn;
  if (!signedIn) delete document.body.dataset.view;
  else if (!document.body.dataset.view) showView("call");
}

$("views").addEventListener("click", (ev) => {
  const b = /** @type {HTMLElement} */ (ev.target).closest("button[data-view]");
  if (b instanceof HTMLButtonElement) showView(/** @type {View} */ (b.dataset.view));
});
document.addEventListener("keydown", (ev) => {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey || $("views").hidden) return;
  const i = "1234".indexOf(ev.key);
  if (i >= 0 && ev.key.length === 1) {
    ev.preventDefault();
    showView(VIEWS[i]);
  }
});
