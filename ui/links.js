import { linkLabel } from "./logic.js";
import { $, copyText, errText, invoke, setText } from "./dom.js";
import { app } from "./state.js";

// Call links: made for the selected lead, copied to the prospect, called once their
// page is open, revoked when no longer wanted. The list is the server's (it survives
// restarts) and is read when the box is opened.
async function loadLinks() {
  /** @type {import("./bindings").CallLink[]} */
  let links;
  try {
    links = await invoke("links");
  } catch (e) {
    setText($("link-result"), errText(e));
    return;
  }
  const names = new Map(app.allLeads.map((l) => [l.id, l.name]));
  const items = links.map((l) => {
    const li = document.createElement("li");
    li.dataset.link = l.id;
    const label = document.createElement("span");
    label.className = "link-label";
    label.textContent = linkLabel(l, (l.lead_id && names.get(l.lead_id)) || null, Date.now());
    const url = document.createElement("input");
    url.readOnly = true;
    url.value = l.url;
    url.setAttribute("aria-label", "Link to send");
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "small copy";
    copy.textContent = "Copy";
    copy.addEventListener("click", async () => {
      url.select();
      const ok = (await copyText(l.url)) || document.execCommand("copy");
      setText($("link-result"), ok ? "Link copied: paste it to the prospect." : "Select the link and copy it (Ctrl+C).");
    });
    const call = document.createElement("button");
    call.type = "button";
    call.className = "small call";
    call.textContent = "Call";
    call.addEventListener("click", () => {
      /** @type {HTMLInputElement} */ ($("target")).value = l.id;
      $("dial").click();
    });
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "small danger revoke";
    revoke.textContent = "Revoke";
    revoke.addEventListener("click", async () => {
      try {
        await invoke("revoke_link", { id: l.id });
        setText($("link-result"), "Revoked: the page no longer opens.");
      } catch (e) {
        setText($("link-result"), errText(e));
      }
      await loadLinks();
    });
    li.append(label, url, copy, call, revoke);
    return li;
  });
  $("links").replaceChildren(...items);
}

$("links-box").addEventListener("toggle", () => {
  if (/** @type {HTMLDetailsElement} */ ($("links-box")).open) loadLinks();
});

$("link-new").addEventListener("click", async () => {
  try {
    const link = await invoke("create_link", {
      lead: app.currentLead,
      singleUse: /** @type {HTMLInputElement} */ ($("link-single")).checked,
    });
    const copied = await copyText(link.url);
    setText($("link-result"), copied ? "New link copied: paste it to the prospect." : "New link below: copy it to the prospect.");
  } catch (e) {
    setText($("link-result"), errText(e));
  }
  await loadLinks();
});
