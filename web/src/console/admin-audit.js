// The audit trail (every privileged act, newest first), filtered by actor, action, client and period, paged.
import { useState } from "preact/hooks";
import { Field, Status, html } from "./forms.js";
import { dateTime, t } from "./i18n.js";
import { Paging, useList } from "./list.js";

const PAGE = 25;
const BLANK = { actor: "", action: "", client: "", from: "", to: "" };

/** A datetime-local value as an instant the API takes (the browser's zone), or "" when empty. */
function instant(local) {
  if (!local) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export function Audit() {
  const [f, setF] = useState(BLANK);
  const [filters, setFilters] = useState(BLANK);
  const list = useList("/v1/audit", { actor: filters.actor, action: filters.action, client: filters.client,
    from: instant(filters.from), to: instant(filters.to), limit: PAGE });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  function apply(e) {
    e.preventDefault();
    if (JSON.stringify(f) === JSON.stringify(filters)) list.reload();
    else setFilters(f);
  }
  return html`
    <section class="card" aria-labelledby="audit-title" data-testid="audit">
      <h3 id="audit-title">${t("aud.title")}</h3>
      <form class="row" onSubmit=${apply} role="search" data-testid="audit-filters">
        <${Field} id="aud-actor" label=${t("aud.actor")}><input id="aud-actor" value=${f.actor} onInput=${set("actor")} /><//>
        <${Field} id="aud-action" label=${t("aud.action")}>
          <input id="aud-action" placeholder="user.* " value=${f.action} onInput=${set("action")} /><//>
        <${Field} id="aud-client" label=${t("adm.client")}><input id="aud-client" value=${f.client} onInput=${set("client")} /><//>
        <${Field} id="aud-from" label=${t("aud.from")}>
          <input id="aud-from" type="datetime-local" value=${f.from} onInput=${set("from")} /><//>
        <${Field} id="aud-to" label=${t("aud.to")}><input id="aud-to" type="datetime-local" value=${f.to} onInput=${set("to")} /><//>
        <div class="field"><button type="submit" class="primary">${t("aud.apply")}</button></div>
      </form>
      <${Status} error=${list.error} />
      ${list.items && list.items.length > 0 && html`
        <table class="grid small" data-testid="audit-rows">
          <thead><tr><th scope="col">${t("aud.at")}</th><th scope="col">${t("aud.actor")}</th>
            <th scope="col">${t("aud.action")}</th><th scope="col">${t("aud.target")}</th>
            <th scope="col">${t("adm.client")}</th><th scope="col">${t("adm.col_reason")}</th></tr></thead>
          <tbody>
            ${list.items.map((a) => html`
              <tr data-testid="audit-row" data-audit-id=${a.id} data-action=${a.action} data-target=${a.target_id}>
                <td>${dateTime(a.at)}</td><td>${a.actor_id} (${t(`role.${a.actor_role}`)})</td>
                <td class="num">${a.action}</td><td class="num">${a.target_type} · ${a.target_id}</td>
                <td>${a.client_id || "—"}</td><td>${a.reason || ""}</td>
              </tr>`)}
          </tbody>
        </table>`}
      <${Paging} list=${list} testid="audit-more" />
    </section>`;
}
