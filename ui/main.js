// Thin view over the Rust controller: commands in, events out. What to show is decided
// in logic.js (unit-tested with `node --test ui/tests/`); each panel draws itself in its
// own module (dom.js, devices.js, account.js, update.js, leads.js, timeline.js,
// links.js, search.js, call.js; views.js switches views in narrow windows); this one
// starts them and wires what crosses panels.
import { $, invoke, showError, showWorkError } from "./dom.js";
import { applyRecordingPolicy, loadDevices, sendPrefs } from "./devices.js";
import { refreshAccount, syncNow } from "./account.js";
import { refreshWork } from "./leads.js";
import { saveNote } from "./timeline.js";
import "./links.js";
import "./search.js";
import "./call.js";

// The administrator's policy first, so the first preferences sent already follow it.
invoke("sign_in_defaults")
  .then(applyRecordingPolicy, () => {})
  .then(loadDevices)
  .then(() => sendPrefs())
  .catch(showError);

// A saved note is shown at once, then pushed.
$("note-save").addEventListener("click", async () => {
  $("work-error").hidden = true;
  try {
    await saveNote();
    await refreshWork();
    await refreshAccount();
    syncNow();
  } catch (e) {
    showWorkError(e);
  }
});

refreshAccount()
  .then(() => ($("work").hidden ? null : refreshWork()))
  .catch(showWorkError)
  // The first screen is drawn and usable (logged for the start-up benchmark).
  .finally(() => invoke("ui_ready").catch(() => {}));

setInterval(() => { if (!$("work").hidden) syncNow().catch(() => {}); }, 15000);
