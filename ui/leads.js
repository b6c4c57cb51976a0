// The lead list: most recent activity first, with unread and pending counts; filters.
import { filterLeads, leadDetail, syncChildren } from "./logic.js";
import { $, $$, invoke, listen, setText, showWorkError } from "./dom.js";
import { app } from "./state.js";
import { keepDraft, loadTimeline, showDraft } from "./timeline.js";
import { showView } from "./views.js";

let leadRows = []; // the `leads` command's rows
let leadFilter = "all";
let leadsSig = "";

/** Reads the lead list and draws it; the first lead is selected when none is. */
export async function loadLeads() {
  leadRows = await invoke("leads");
  app.allLeads = leadRows.map((r) => r.lead);
  if (!app.currentLead && leadRows.length) {
    app.currentLead = leadRows[0].lead.id;
    showDraft();
  }
  renderLeads();
}

// A lead's row, kept by id and updated in place when its figures change.
const leadItems = new Map(); // lead id -> { li, update }

/** @param {string} id */
function leadItem(id) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.className = "lead-row";
  b.dataset.lead = id;
  const name = document.createElement("span");
  name.className = "lead-title";
  const detail = document.createElement("span");
  detail.className = "lead-detail";
  const badge = document.createElement("span");
  badge.className = "badge";
  const pending = document.createElement("span");
  pending.className = "tag pending";
  b.addEventListener("click", () => {
    showView("conversation");
    selectLead(id).catch(showWorkError);
  });
  li.append(b);
  /** @param {import("./bindings").LeadOverview} row @param {number} now */
  const update = (row, now) => {
    if (row.lead.id === app.currentLead) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
    setText(name, row.lead.name);
    setText(detail, leadDetail(row, now));
    setText(badge, String(row.unread));
    badge.setAttribute("aria-label", `${row.unread} unread`);
    setText(pending, `${row.pending} pending`);
    // The badge and the tag are in the row only while they count something.
    syncChildren(b, [name, detail, ...(row.unread ? [badge] : []), ...(row.pending ? [pending] : [])]);
  };
  return { li, update };
}

function renderLeads() {
  const now = Date.now();
  const rows = filterLeads(leadRows, leadFilter, app.currentLead);
  // Redrawn only when something shown changed (the list refreshes every sync round).
  const sig = JSON.stringify([rows, app.currentLead, Math.floor(now / 60_000)]);
  if (sig === leadsSig) return;
  leadsSig = sig;
  const items = rows.map((row) => {
    let r = leadItems.get(row.lead.id);
    if (!r) {
      r = leadItem(row.lead.id);
      leadItems.set(row.lead.id, r);
    }
    r.update(row, now);
    return r.li;
  });
  const shown = new Set(rows.map((row) => row.lead.id));
  for (const id of leadItems.keys()) if (!shown.has(id)) leadItems.delete(id);
  // Keyboard focus stays on the same lead across a redraw.
  const active = /** @type {HTMLElement | null} */ (document.activeElement);
  const focused = active && active.closest("#leads") ? active.dataset.lead : null;
  syncChildren($("leads"), items);
  if (focused) $$(`#leads button[data-lead="${focused}"]`)[0]?.focus();
  $("leads-empty").hidden = items.length > 0;
  const lead = leadRows.find((r) => r.lead.id === app.currentLead);
  setText($("lead-name"), lead ? `with ${lead.lead.name}` : "");
}

/** Opens a lead's timeline (which marks its messages read), then updates the list. */
export async function selectLead(id) {
  if (id !== app.currentLead) {
    // The draft of the lead being left is kept now, under its own lead.
    keepDraft(app.currentLead);
    app.currentLead = id;
    showDraft();
  }
  renderLeads();
  await refreshWork();
}

/** Timeline first (it marks the lead read), then the list's counts. */
export async function refreshWork() {
  if (!app.currentLead) await loadLeads();
  await loadTimeline();
  await loadLeads();
}

/** Picks the list's filter (`all`, `unread`, …) and marks its button pressed. */
function setFilter(/** @type {string} */ filter) {
  leadFilter = filter;
  for (const x of $$(".filters button")) {
    x.setAttribute("aria-pressed", String((x.dataset.filter || "all") === filter));
  }
}

for (const b of $$(".filters button")) {
  b.addEventListener("click", () => {
    setFilter(b.dataset.filter || "all");
    renderLeads();
  });
}
// Arrow keys move through the lead list, as in a mail client.
$("leads").addEventListener("keydown", (ev) => {
  if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
  const buttons = [...$("leads").querySelectorAll("button.lead-row")];
  const i = buttons.indexOf(document.activeElement);
  const next = buttons[i + (ev.key === "ArrowDown" ? 1 : -1)];
  if (next) {
    ev.preventDefault();
    next.focus();
    next.click();
  }
});

// A sync round brought inbound messages (the app also notifies when unfocused).
listen("messages-arrived", () => loadLeads().catch(() => {}));

/** Shows every lead again (a search result may be under another filter). */
export function showAllLeads() {
  setFilter("all");
}
