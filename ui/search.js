import { matchLeads, snippetParts } from "./logic.js";
import { $, $$, invoke, showWorkError } from "./dom.js";
import { app } from "./state.js";
import { selectLead, showAllLeads } from "./leads.js";
import { showView } from "./views.js";

// Search: leads by name or company, and the local full-text index of notes and messages
// (works offline). Picking a result opens that lead's timeline.
let searchSeq = 0;

function resultItem(text, snippet, lead) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.className = "result";
  const title = document.createElement("span");
  title.textContent = text;
  b.append(title);
  if (snippet) {
    const p = document.createElement("span");
    p.className = "snippet";
    // The store marks the match with [ ]: shown as <mark>, built as text nodes.
    for (const part of snippetParts(snippet)) {
      if (part.mark) {
        const m = document.createElement("mark");
        m.textContent = part.text;
        p.append(m);
      } else {
        p.append(part.text);
      }
    }
    b.append(p);
  }
  b.addEventListener("click", () => {
    $("search").value = "";
    $("search-results").hidden = true;
    showAllLeads();
    showView("conversation");
    selectLead(lead)
      .then(() => $$(`#leads button[data-lead="${lead}"]`)[0]?.focus())
      .catch(showWorkError);
  });
  li.append(b);
  return li;
}

async function runSearch() {
  const q = $("search").value.trim();
  const seq = ++searchSeq;
  const list = $("search-results");
  if (!q) {
    list.hidden = true;
    list.replaceChildren();
    return;
  }
  const names = new Map(app.allLeads.map((l) => [l.id, l.name]));
  const items = matchLeads(app.allLeads, q)
    .map((l) => resultItem(l.company ? `${l.name} (${l.company})` : l.name, null, l.id));
  for (const h of await invoke("search", { query: q })) {
    items.push(resultItem(`${h.entity} · ${names.get(h.lead_id) || "lead"}`, h.snippet, h.lead_id));
  }
  if (seq !== searchSeq) return; // a newer keystroke already answered
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Nothing matches.";
    items.push(li);
  }
  list.replaceChildren(...items);
  list.hidden = false;
}

let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => runSearch().catch(showWorkError), 120);
});
$("search").addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") {
    $("search").value = "";
    runSearch().catch(() => {});
  }
});
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey && ev.key === "k" && !$("work").hidden) {
    ev.preventDefault();
    showView("leads");
    $("search").focus();
  }
});
