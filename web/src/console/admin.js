// The admin's screens, each a client of the public API (the walls are the service's: an admin of one bank sees
// and changes only its bank): users, roles and teams with their tokens; client policies; the do-not-call list
// with the two-person release requests; webhook subscriptions with their deliveries, dead letters and replay;
// each client's presented numbers; the audit trail. Every list pages through the API's cursor (list.js).
import { useState } from "preact/hooks";
import { html } from "./forms.js";
import { t } from "./i18n.js";
import { Audit } from "./admin-audit.js";
import { DoNotCall } from "./admin-dnc.js";
import { Hooks } from "./admin-hooks.js";
import { PresentedNumbers } from "./admin-numbers.js";
import { Policies } from "./admin-policies.js";
import { Users } from "./admin-users.js";

// each section and the roles the API lets use it (tests/authz_matrix.py): a supervisor reads presented numbers,
// a manager those and the audit trail; the rest is an admin's
const ADMIN = ["admin"];
const SECTIONS = [["users", ADMIN], ["policies", ADMIN], ["numbers", ["supervisor", "manager", "admin"]],
  ["dnc", ADMIN], ["hooks", ADMIN], ["audit", ["manager", "admin"]]];

export function Admin({ me }) {
  const sections = SECTIONS.filter(([, roles]) => roles.includes(me.role)).map(([s]) => s);
  const [section, setSection] = useState(sections[0]);
  return html`
    <div class="admin">
      <nav class="subtabs" aria-label=${t("adm.sections")}>
        ${sections.map((s) => html`
          <button class=${section === s ? "tab active" : "tab"} aria-current=${section === s ? "page" : undefined}
                  data-testid=${`admin-${s}`} onClick=${() => setSection(s)}>${t(`adm.${s}`)}</button>`)}
      </nav>
      ${section === "users" ? html`<${Users} me=${me} />`
        : section === "policies" ? html`<${Policies} me=${me} />`
        : section === "numbers" ? html`<${PresentedNumbers} me=${me} />`
        : section === "dnc" ? html`<${DoNotCall} me=${me} />`
        : section === "audit" ? html`<${Audit} me=${me} />`
          : html`<${Hooks} me=${me} />`}
    </div>`;
}
