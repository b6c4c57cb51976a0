// Updates: the server offers one, the agent installs it when no call runs (Rust
// refuses during a call too, and keeps calls out while it installs).
import { updateBanner, updateErrorShown } from "./logic.js";
import { $, errText, invoke, setText } from "./dom.js";
import { app } from "./state.js";

/** @type {import("./bindings").UpdateOffer | null} */
let updateOffer = null;
/** @type {ReturnType<typeof setInterval> | null} */
let updateTimer = null;

/** Draws the banner: what is offered, and whether it can install now (no call). */
export function drawUpdate() {
  const b = updateBanner(updateOffer, app.callOn);
  $("update").hidden = b.hidden;
  if (b.hidden) return;
  setText($("update-text"), b.text);
  setText($("update-hint"), b.hint);
  /** @type {HTMLButtonElement} */ ($("update-install")).disabled = !b.canInstall;
}

async function checkForUpdate() {
  try {
    updateOffer = await invoke("check_update");
  } catch (e) {
    updateOffer = null;
    if (updateErrorShown(e)) console.warn("update check:", errText(e));
  }
  drawUpdate();
}

$("update-install").addEventListener("click", async () => {
  /** @type {HTMLButtonElement} */ ($("update-install")).disabled = true;
  setText($("update-hint"), "Downloading and verifying…");
  try {
    await invoke("install_update"); // restarts the app when it succeeds
  } catch (e) {
    setText($("update-hint"), errText(e));
    /** @type {HTMLButtonElement} */ ($("update-install")).disabled = app.callOn;
  }
});

/** After sign-in (the server's update route needs the session): checks now, then every 4 h. */
export function startUpdateChecks() {
  if (updateTimer) return;
  checkForUpdate();
  updateTimer = setInterval(checkForUpdate, 4 * 3600 * 1000);
}
