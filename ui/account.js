// The signed-in agent: sign-in, the header (who, sync state, presence), sync rounds,
// and the support report.
import { syncText } from "./logic.js";
import { $, copyText, errText, invoke, listen, setText, showWorkError } from "./dom.js";
import { app } from "./state.js";
import { refreshPolicy } from "./devices.js";
import { refreshWork } from "./leads.js";
import { startUpdateChecks } from "./update.js";
import { enableViews } from "./views.js";

/** The sign-in screen starts from the administrator's preset server, when there is one. */
async function loadSignInDefaults() {
  try {
    const d = await invoke("sign_in_defaults");
    if (d.server_url) $("server").value = d.server_url;
    $("server").readOnly = d.lock_server_url;
    $("server-locked").hidden = !d.lock_server_url;
  } catch (e) {
    setText($("signin-error"), `${errText(e)} Ask your administrator to fix the file.`);
    $("signin-error").hidden = false;
  }
}

function showAccount(a) {
  if (!a && $("signin").hidden) loadSignInDefaults();
  if (a) startUpdateChecks();
  $("signin").hidden = !!a;
  $("work").hidden = !a;
  $("conversation").hidden = !a;
  enableViews(!!a);
  $("call").hidden = !a;
  $("who").hidden = !a;
  if (!a) return;
  setText($("who-name"), `${a.display_name} at ${a.server_url}`);
  app.syncStatus = a.status;
  setText($("sync-state"), syncText(a.status));
}

/** Draws the account (or the sign-in screen) from the controller. */
export async function refreshAccount() {
  showAccount(await invoke("account"));
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").hidden = true;
  try {
    showAccount(await invoke("sign_in", {
      server: $("server").value, email: $("email").value, password: $("password").value,
    }));
    $("password").value = "";
    await refreshPolicy();
    await refreshWork();
  } catch (e) {
    setText($("signin-error"), errText(e));
    $("signin-error").hidden = false;
  }
});

/** A sync round now (offline is a state, not an error), then everything it changed. */
export async function syncNow() {
  try {
    await invoke("sync_now");
  } catch (e) {
    // Offline is a state, not an error: the header says so and notes stay pending.
  }
  await refreshAccount();
  await refreshWork();
  await refreshPolicy();
}

listen("sync-changed", () => {
  refreshAccount().catch(() => {});
  refreshWork().catch(() => {});
});
// Presence: colleagues' calls fail with "busy" unless the agent is available.
$("presence").addEventListener("change", () => {
  $("presence").dataset.status = $("presence").value;
  invoke("set_presence", { status: $("presence").value }).catch(showWorkError);
});
// The tray menu sets presence too.
listen("presence-changed", (ev) => {
  $("presence").value = ev.payload;
  $("presence").dataset.status = ev.payload;
});
$("presence").dataset.status = $("presence").value;

$("sync-now").addEventListener("click", () => syncNow().catch(showWorkError));

// "Copy diagnostics": the redacted support report, shown so the agent sees what they
// share, and copied to the clipboard (the textarea is the fallback where the webview
// grants no clipboard access).
$("copy-diagnostics").addEventListener("click", async () => {
  const box = $("diagnostics-text");
  try {
    box.value = await invoke("diagnostics");
  } catch (e) {
    setText($("diagnostics-result"), `Cannot build the report: ${errText(e)}`);
    return;
  }
  box.hidden = false;
  box.select();
  const copied = (await copyText(box.value)) || document.execCommand("copy");
  setText($("diagnostics-result"), copied
    ? "Copied: paste it into your support ticket. Phone numbers, e-mails and tokens are removed."
    : "Select the report below and copy it (Ctrl+C) into your support ticket.");
});
