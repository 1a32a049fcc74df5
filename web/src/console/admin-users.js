// The admin's users, roles and teams, and each user's tokens (issued and shown once, revoked).
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Field, Status, explain, html, list } from "./forms.js";
import { dateTime, t } from "./i18n.js";
import { Paging, useList } from "./list.js";

const ROLES = ["agent", "supervisor", "manager", "qa", "integration", "admin"];

function NewUser({ me, onCreated }) {
  const blank = { id: "", display_name: "", role: "agent", team: "", clients: (me.clients || []).join(", "), sip_user: "" };
  const [f, setF] = useState(blank);
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  async function submit(e) {
    e.preventDefault();
    setError(null);
    setNote(null);
    try {
      const u = await api("POST", "/v1/users", { id: f.id.trim(), role: f.role, display_name: f.display_name || undefined,
        team: f.team.trim() || undefined, clients: list(f.clients), sip_user: f.sip_user.trim() || undefined });
      setNote(t("user.created", { id: u.id }));
      setF(blank);
      onCreated(u);
    } catch (err) {
      setError(explain(err));
    }
  }
  return html`
    <form class="card admin-form" onSubmit=${submit} aria-labelledby="new-user-title" data-testid="new-user">
      <h3 id="new-user-title">${t("user.new")}</h3>
      <div class="row">
        <${Field} id="nu-id" label=${t("user.id")}><input id="nu-id" required value=${f.id} onInput=${set("id")} /><//>
        <${Field} id="nu-name" label=${t("user.name")}><input id="nu-name" value=${f.display_name} onInput=${set("display_name")} /><//>
        <${Field} id="nu-role" label=${t("user.role")}>
          <select id="nu-role" value=${f.role} onChange=${set("role")}>
            ${ROLES.map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}
          </select><//>
        <${Field} id="nu-team" label=${t("user.team")}><input id="nu-team" value=${f.team} onInput=${set("team")} /><//>
        <${Field} id="nu-clients" label=${t("adm.clients")}><input id="nu-clients" value=${f.clients} onInput=${set("clients")} /><//>
        <${Field} id="nu-sip" label=${t("user.sip")}><input id="nu-sip" value=${f.sip_user} onInput=${set("sip_user")} /><//>
      </div>
      <${Status} error=${error} note=${note} />
      <button type="submit" class="primary">${t("user.create")}</button>
    </form>`;
}

function EditUser({ user, onSaved, onClose }) {
  const [f, setF] = useState({ role: user.role, team: user.team || "", clients: user.clients.join(", "),
    display_name: user.display_name, reason: "" });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  async function patch(body) {
    setError(null);
    try {
      onSaved(await api("PATCH", `/v1/users/${encodeURIComponent(user.id)}`, { ...body, reason: f.reason || undefined }));
    } catch (err) {
      setError(explain(err));
    }
  }
  function submit(e) {
    e.preventDefault();
    patch({ role: f.role, team: f.team.trim() || null, clients: list(f.clients), display_name: f.display_name });
  }
  return html`
    <form class="card admin-form" onSubmit=${submit} aria-labelledby="edit-user-title" data-testid="edit-user">
      <h3 id="edit-user-title">${t("user.edit", { id: user.id })}</h3>
      <div class="row">
        <${Field} id="eu-name" label=${t("user.name")}><input id="eu-name" value=${f.display_name} onInput=${set("display_name")} /><//>
        <${Field} id="eu-role" label=${t("user.role")}>
          <select id="eu-role" value=${f.role} onChange=${set("role")}>
            ${ROLES.map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}
          </select><//>
        <${Field} id="eu-team" label=${t("user.team")}><input id="eu-team" value=${f.team} onInput=${set("team")} /><//>
        <${Field} id="eu-clients" label=${t("adm.clients")}><input id="eu-clients" value=${f.clients} onInput=${set("clients")} /><//>
        <${Field} id="eu-reason" label=${t("adm.reason")}><input id="eu-reason" value=${f.reason} onInput=${set("reason")} /><//>
      </div>
      <${Status} error=${error} />
      <div class="buttons">
        <button type="submit" class="primary" data-testid="save-user">${t("adm.save")}</button>
        ${user.active ? html`<button type="button" class="danger" data-testid="deactivate"
                                     onClick=${() => patch({ active: false })}>${t("user.deactivate")}</button>`
          : html`<button type="button" data-testid="reactivate" onClick=${() => patch({ active: true })}>${t("user.reactivate")}</button>`}
        <button type="button" onClick=${onClose}>${t("adm.cancel")}</button>
      </div>
    </form>`;
}

function Tokens({ user }) {
  const path = `/v1/users/${encodeURIComponent(user.id)}/tokens`;
  const tokens = useList(path);
  const items = tokens.items;
  const [label, setLabel] = useState("");
  const [days, setDays] = useState("90");
  const [issued, setIssued] = useState(null);
  useEffect(() => {
    setIssued(null);
  }, [user.id]);
  async function issue(e) {
    e.preventDefault();
    tokens.fail(null);
    try {
      setIssued(await api("POST", path, { label, expires_in_days: Number(days) || undefined }));
      setLabel("");
      tokens.reload();
    } catch (err) {
      tokens.fail(err);
    }
  }
  async function revoke(tok) {
    tokens.fail(null);
    try {
      await api("POST", `/v1/tokens/${encodeURIComponent(tok.id)}/revoke`, {});
      tokens.reload();
    } catch (err) {
      tokens.fail(err);
    }
  }
  return html`
    <section class="card" aria-labelledby="tokens-title" data-testid="tokens">
      <h3 id="tokens-title">${t("tok.title", { id: user.id })}</h3>
      <form class="row" onSubmit=${issue}>
        <${Field} id="tok-label" label=${t("tok.label")}><input id="tok-label" maxlength="100" value=${label}
          onInput=${(e) => setLabel(e.target.value)} /><//>
        <${Field} id="tok-days" label=${t("tok.days")}><input id="tok-days" type="number" min="1" max="3650" value=${days}
          onInput=${(e) => setDays(e.target.value)} /><//>
        <div class="field"><button type="submit" class="primary" data-testid="issue-token">${t("tok.issue")}</button></div>
      </form>
      ${issued && html`
        <div class="notice" role="status" data-testid="issued">
          <p><strong>${t("tok.once")}</strong></p>
          <label for="tok-secret">${t("tok.secret")}</label>
          <input id="tok-secret" readonly class="num" value=${issued.token} data-testid="issued-token"
                 onFocus=${(e) => e.target.select()} />
        </div>`}
      <${Status} error=${tokens.error} />
      ${items && items.length > 0 && html`
        <table class="grid small">
          <thead><tr><th scope="col">${t("tok.label")}</th><th scope="col">${t("tok.kind")}</th>
            <th scope="col">${t("tok.created")}</th><th scope="col">${t("tok.expires")}</th>
            <th scope="col">${t("tok.last_used")}</th><th scope="col">${t("adm.actions")}</th></tr></thead>
          <tbody>
            ${items.map((tok) => html`
              <tr data-testid="token-row" data-token-id=${tok.id} data-revoked=${tok.revoked_at ? "yes" : "no"}>
                <td>${tok.label || "—"}</td><td>${t(`tok.kind.${tok.kind}`)}</td>
                <td>${dateTime(tok.created_at)}</td><td>${dateTime(tok.expires_at)}</td>
                <td>${tok.last_used_at ? dateTime(tok.last_used_at) : "—"}</td>
                <td>${tok.revoked_at ? html`<span class="muted">${t("tok.revoked")}</span>`
                  : html`<button class="danger" data-testid="revoke" aria-label=${t("tok.revoke_label", { label: tok.label || tok.id })}
                           onClick=${() => revoke(tok)}>${t("tok.revoke")}</button>`}</td>
              </tr>`)}
          </tbody>
        </table>`}
      <${Paging} list=${tokens} testid="tokens-more" />
    </section>`;
}

export function Users({ me }) {
  const [role, setRole] = useState("");
  const list = useList("/v1/users", { role });
  const users = list.items;
  const [editing, setEditing] = useState(null);
  function saved(u) {
    list.setItems((prev) => (prev || []).map((x) => (x.id === u.id ? u : x)));
    setEditing(u);
  }
  function created(u) {
    // users are listed by id: shown now when every page is loaded, else the page that holds it shows it
    if (!list.more) list.setItems((prev) => [...(prev || []), u].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    setEditing(u);
  }
  return html`
    <div class="admin-split">
      <section class="card" aria-labelledby="users-title">
        <h3 id="users-title">${t("user.list")}</h3>
        <label for="user-role" class="inline">${t("user.filter_role")}
          <select id="user-role" value=${role} onChange=${(e) => setRole(e.target.value)}>
            <option value="">${t("user.any_role")}</option>
            ${ROLES.map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}
          </select></label>
        <${Status} error=${list.error} />
        ${users && html`
          <table class="grid small" data-testid="users">
            <thead><tr><th scope="col">${t("user.id")}</th><th scope="col">${t("user.name")}</th>
              <th scope="col">${t("user.role")}</th><th scope="col">${t("user.team")}</th>
              <th scope="col">${t("adm.client")}</th><th scope="col">${t("user.active")}</th>
              <th scope="col">${t("adm.actions")}</th></tr></thead>
            <tbody>
              ${users.map((u) => html`
                <tr data-testid="user-row" data-user-id=${u.id} data-active=${u.active ? "yes" : "no"}>
                  <td>${u.id}</td><td>${u.display_name}</td><td>${t(`role.${u.role}`)}</td><td>${u.team || "—"}</td>
                  <td>${u.clients.length ? u.clients.join(", ") : t("adm.all_clients")}</td>
                  <td>${u.active ? t("user.is_active") : html`<span class="muted">${t("user.is_inactive")}</span>`}</td>
                  <td><button class="link" data-testid="edit-user-button" aria-label=${t("user.edit", { id: u.id })}
                              onClick=${() => setEditing(u)}>${t("user.edit_button")}</button></td>
                </tr>`)}
            </tbody>
          </table>`}
        <${Paging} list=${list} testid="users-more" />
      </section>
      <div>
        ${editing ? html`
          <${EditUser} key=${`${editing.id}-${editing.updated_at}`} user=${editing} onSaved=${saved}
                       onClose=${() => setEditing(null)} />
          <${Tokens} user=${editing} />`
          : html`<${NewUser} me=${me} onCreated=${created} />`}
      </div>
    </div>`;
}
