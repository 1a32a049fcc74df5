// The admin's screens, each a client of the public API (the walls are the service's: an admin of one bank sees
// and changes only its bank): users, roles and teams with their tokens; client policies; the do-not-call list
// with the two-person release requests; webhook subscriptions with their deliveries, dead letters and replay.
import { useState } from "preact/hooks";
import { html } from "./forms.js";
import { t } from "./i18n.js";
import { DoNotCall } from "./admin-dnc.js";
import { Hooks } from "./admin-hooks.js";
import { Policies } from "./admin-policies.js";
import { Users } from "./admin-users.js";

const SECTIONS = ["users", "policies", "dnc", "hooks"];

export function Admin({ me }) {
  const [section, setSection] = useState("users");
  return html`
    <div class="admin">
      <nav class="subtabs" aria-label=${t("adm.sections")}>
        ${SECTIONS.map((s) => html`
          <button class=${section === s ? "tab active" : "tab"} aria-current=${section === s ? "page" : undefined}
                  data-testid=${`admin-${s}`} onClick=${() => setSection(s)}>${t(`adm.${s}`)}</button>`)}
      </nav>
      ${section === "users" ? html`<${Users} me=${me} />`
        : section === "policies" ? html`<${Policies} me=${me} />`
        : section === "dnc" ? html`<${DoNotCall} me=${me} />`
          : html`<${Hooks} me=${me} />`}
    </div>`;
}
