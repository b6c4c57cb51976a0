// What more than one panel reads: the selected lead, the lead records (for names in
// the links box and the search), the store's sync status (for upload labels) and
// whether a call is up (the update banner waits for its end). One object, so every
// module sees the same values.

export const app = {
  /** The selected lead's id. @type {string | null} */
  currentLead: null,
  /** Lead records, for the search box and the links box. @type {import("./bindings").Lead[]} */
  allLeads: [],
  /** The store's sync status, for the upload labels. @type {import("./bindings").Status | null} */
  syncStatus: null,
  /** True while a call is up. */
  callOn: false,
};
