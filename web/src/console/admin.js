// The admin's screens, each a client of the public API (the walls are the service's: an admin of one bank sees
// and changes only its bank): users, roles and teams with their tokens; client policies; the do-not-call list
// with the two-person release requests; webhook subscriptions with their deliveries, dead letters and replay.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { dateTime, t } from "./i18n.js";

const html = htm.bind(h);
const ROLES = ["agent", "supervisor", "manager", "qa", "integration", "admin"];
const SECTIONS = ["users", "policies", "dnc", "hooks"];
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CAPS = ["max_unanswered_per_number_per_day", "max_connected_per_debtor_per_day",
  "max_attempts_per_debtor_rolling_7d", "quiet_days_after_conversation"];
const DELIVERY_STATES = ["dead", "pending", "delivered", "disabled"];

/** The words of a refusal: the service's message in the user's language, and which fields it names. */
function explain(err) {
  const fields = (err.details?.errors || []).map((x) => x.field).join(", ");
  const reason = err.details?.reason ? ` (${err.details.reason})` : "";
  return `${err.text()}${fields && !err.text().includes(fields) ? ` ${fields}` : ""}${reason}`;
}

function list(text) {
  return text.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);
}

/** A status line: an error (role=alert) or a note (role=status). */
function Status({ error, note }) {
  if (error) return html`<p class="error" role="alert" data-testid="admin-error">${error}</p>`;
  if (note) return html`<p class="ok" role="status" data-testid="admin-note">${note}</p>`;
  return null;
}

function Field({ id, label, children }) {
  return html`<div class="field"><label for=${id}>${label}</label>${children}</div>`;
}

// -- users, roles, teams and tokens ---------------------------------------------------------------------------

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
  const [items, setItems] = useState(null);
  const [label, setLabel] = useState("");
  const [days, setDays] = useState("90");
  const [issued, setIssued] = useState(null);
  const [error, setError] = useState(null);
  const path = `/v1/users/${encodeURIComponent(user.id)}/tokens`;
  async function load() {
    try {
      setItems((await api("GET", path)).items);
    } catch (err) {
      setError(explain(err));
    }
  }
  useEffect(() => {
    setIssued(null);
    load();
  }, [user.id]);
  async function issue(e) {
    e.preventDefault();
    setError(null);
    try {
      setIssued(await api("POST", path, { label, expires_in_days: Number(days) || undefined }));
      setLabel("");
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  async function revoke(tok) {
    setError(null);
    try {
      await api("POST", `/v1/tokens/${encodeURIComponent(tok.id)}/revoke`, {});
      load();
    } catch (err) {
      setError(explain(err));
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
      <${Status} error=${error} />
      ${items && html`
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
    </section>`;
}

function Users({ me }) {
  const [users, setUsers] = useState(null);
  const [role, setRole] = useState("");
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null);
  async function load() {
    try {
      const q = new URLSearchParams(role ? { role } : {});
      setUsers((await api("GET", `/v1/users?${q}`)).items);
    } catch (err) {
      setError(explain(err));
    }
  }
  useEffect(() => {
    load();
  }, [role]);
  function saved(u) {
    setUsers((prev) => prev.map((x) => (x.id === u.id ? u : x)));
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
        <${Status} error=${error} />
        ${users === null ? html`<p class="muted">${t("adm.loading")}</p>` : html`
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
      </section>
      <div>
        ${editing ? html`
          <${EditUser} key=${`${editing.id}-${editing.updated_at}`} user=${editing} onSaved=${saved}
                       onClose=${() => setEditing(null)} />
          <${Tokens} user=${editing} />`
          : html`<${NewUser} me=${me} onCreated=${(u) => { setUsers((prev) => [...(prev || []), u]); setEditing(u); }} />`}
      </div>
    </div>`;
}

// -- client policies ------------------------------------------------------------------------------------------

function windowsText(intervals) {
  return (intervals || []).map((iv) => `${iv.start}-${iv.end}`).join(", ");
}

function parseWindows(text) {
  const out = [];
  for (const part of list(text)) {
    const m = /^([0-2][0-9]:[0-5][0-9])-([0-2][0-9]:[0-5][0-9])$/.exec(part);
    if (!m) throw new Error(t("pol.invalid_window", { text: part }));
    out.push({ start: m[1], end: m[2] });
  }
  return out;
}

/** The editable part of a policy (the client's own rules; the other stored rules are kept as they are). */
function formOf(doc) {
  const rules = doc?.rules || {};
  const w = rules.windows || {};
  return {
    jurisdiction: doc?.jurisdiction || "CN", retention: doc?.retention_days ?? "", reason: "",
    windows: Object.fromEntries(DAYS.map((d) => [d, d in w ? (w[d].length ? windowsText(w[d]) : "-") : ""])),
    caps: Object.fromEntries(CAPS.map((c) => [c, rules[c] ?? ""])),
    tp_allowed: rules.third_party_allowed ?? true,
    tp_min: rules.third_party_min_failed_own_attempts ?? "", tp_max: rules.third_party_max_calls_per_number ?? "",
  };
}

function rulesOf(stored, f) {
  const rules = { ...(stored || {}) };
  const windows = {};
  for (const d of DAYS) {
    const text = f.windows[d].trim();
    if (text === "-") windows[d] = [];
    else if (text) windows[d] = parseWindows(text);
  }
  if (Object.keys(windows).length) rules.windows = windows;
  else delete rules.windows;
  for (const c of CAPS) {
    if (f.caps[c] === "" || f.caps[c] === null) delete rules[c];
    else rules[c] = Number(f.caps[c]);
  }
  rules.third_party_allowed = f.tp_allowed;
  for (const [key, v] of [["third_party_min_failed_own_attempts", f.tp_min], ["third_party_max_calls_per_number", f.tp_max]]) {
    if (v === "" || v === null) delete rules[key];
    else rules[key] = Number(v);
  }
  return rules;
}

function Policies({ me }) {
  const global = !(me.clients || []).length;
  const [client, setClient] = useState(global ? "" : me.clients[0]);
  const [doc, setDoc] = useState(undefined); // undefined: not loaded; null: no stored policy
  const [f, setF] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  async function load(e) {
    if (e) e.preventDefault();
    setError(null);
    setNote(null);
    try {
      const d = await api("GET", `/v1/compliance/policies/${encodeURIComponent(client.trim())}`);
      setDoc(d);
      setF(formOf(d));
    } catch (err) {
      if (err.code === "no-such-policy") {
        setDoc(null);
        setF(formOf(null));
      } else {
        setDoc(undefined);
        setError(explain(err));
      }
    }
  }
  useEffect(() => {
    if (client) load();
  }, []);
  async function save(e) {
    e.preventDefault();
    setError(null);
    setNote(null);
    let rules;
    try {
      rules = rulesOf(doc?.rules, f);
    } catch (err) {
      setError(err.message);
      return;
    }
    try {
      const d = await api("PUT", `/v1/compliance/policies/${encodeURIComponent(client.trim())}`, {
        jurisdiction: f.jurisdiction, rules, retention_days: f.retention === "" ? null : Number(f.retention),
        reason: f.reason || undefined });
      setDoc(d);
      setF(formOf(d));
      setNote(t("adm.saved"));
    } catch (err) {
      setError(explain(err));
    }
  }
  const eff = doc?.effective;
  return html`
    <section class="card" aria-labelledby="pol-title">
      <h3 id="pol-title">${t("adm.policies")}</h3>
      <form class="row" onSubmit=${load}>
        <${Field} id="pol-client" label=${t("adm.client")}>
          ${global ? html`<input id="pol-client" required value=${client} onInput=${(e) => setClient(e.target.value)} />`
            : html`<select id="pol-client" value=${client} onChange=${(e) => setClient(e.target.value)}>
                ${me.clients.map((c) => html`<option value=${c}>${c}</option>`)}</select>`}<//>
        <div class="field"><button type="submit" data-testid="load-policy">${t("pol.load")}</button></div>
      </form>
      ${f && html`
        <form onSubmit=${save} data-testid="policy-form">
          ${doc === null && html`<p class="notice">${t("pol.none")}</p>`}
          ${doc && html`<p class="muted small">${t("pol.updated", { at: dateTime(doc.updated_at), by: doc.updated_by })}</p>`}
          <div class="row">
            <${Field} id="pol-jur" label=${t("pol.jurisdiction")}>
              <select id="pol-jur" value=${f.jurisdiction} onChange=${(e) => setF({ ...f, jurisdiction: e.target.value })}>
                ${["CN", "US", "DEMO"].map((j) => html`<option value=${j}>${j}</option>`)}</select><//>
            <${Field} id="pol-ret" label=${t("pol.retention")}>
              <input id="pol-ret" type="number" min="1" value=${f.retention}
                     onInput=${(e) => setF({ ...f, retention: e.target.value })} /><//>
          </div>
          <fieldset>
            <legend>${t("pol.windows")}</legend>
            <div class="week">
              ${DAYS.map((d, i) => html`
                <${Field} id=${`pol-win-${d}`} label=${t(`weekday.${i}`)}>
                  <input id=${`pol-win-${d}`} data-testid=${`window-${d}`} value=${f.windows[d]}
                         placeholder=${eff ? windowsText(eff.windows[d]) || t("pol.no_calls") : ""}
                         onInput=${(e) => setF({ ...f, windows: { ...f.windows, [d]: e.target.value } })} /><//>`)}
            </div>
          </fieldset>
          <fieldset>
            <legend>${t("pol.caps")}</legend>
            <div class="row">
              ${CAPS.map((c) => html`
                <${Field} id=${`pol-${c}`} label=${t(`pol.${c}`)}>
                  <input id=${`pol-${c}`} type="number" min="0" value=${f.caps[c]} placeholder=${eff?.[c] ?? ""}
                         onInput=${(e) => setF({ ...f, caps: { ...f.caps, [c]: e.target.value } })} /><//>`)}
            </div>
          </fieldset>
          <fieldset>
            <legend>${t("pol.third_party")}</legend>
            <label class="inline"><input type="checkbox" checked=${f.tp_allowed} data-testid="third-party-allowed"
              onChange=${(e) => setF({ ...f, tp_allowed: e.target.checked })} />${t("pol.third_party_allowed")}</label>
            <div class="row">
              <${Field} id="pol-tp-min" label=${t("pol.third_party_min_failed_own_attempts")}>
                <input id="pol-tp-min" type="number" min="0" value=${f.tp_min}
                       placeholder=${eff?.third_party_min_failed_own_attempts ?? ""} onInput=${(e) => setF({ ...f, tp_min: e.target.value })} /><//>
              <${Field} id="pol-tp-max" label=${t("pol.third_party_max_calls_per_number")}>
                <input id="pol-tp-max" type="number" min="0" value=${f.tp_max}
                       placeholder=${eff?.third_party_max_calls_per_number ?? ""} onInput=${(e) => setF({ ...f, tp_max: e.target.value })} /><//>
            </div>
          </fieldset>
          <${Field} id="pol-reason" label=${t("adm.reason")}>
            <input id="pol-reason" value=${f.reason} onInput=${(e) => setF({ ...f, reason: e.target.value })} /><//>
          <${Status} error=${error} note=${note} />
          <button type="submit" class="primary" data-testid="save-policy">${t("pol.save")}</button>
        </form>`}
      ${!f && html`<${Status} error=${error} />`}
      ${eff && html`
        <details class="effective"><summary>${t("pol.effective")}</summary>
          <table class="grid small">
            <tbody>
              ${DAYS.map((d, i) => html`<tr><th scope="row">${t(`weekday.${i}`)}</th>
                <td data-testid=${`effective-${d}`}>${windowsText(eff.windows[d]) || t("pol.no_calls")}</td></tr>`)}
              ${CAPS.map((c) => html`<tr><th scope="row">${t(`pol.${c}`)}</th><td>${eff[c] ?? "—"}</td></tr>`)}
              <tr><th scope="row">${t("pol.third_party_allowed")}</th><td>${eff.third_party_allowed ? t("adm.yes") : t("adm.no")}</td></tr>
            </tbody>
          </table>
        </details>`}
    </section>`;
}

// -- the do-not-call list and the two-person release requests -------------------------------------------------

function releaseTarget(r) {
  if (r.kind === "do_not_call_number") return `${r.number} · ${r.case_id}`;
  if (r.kind === "case_hold") return `${r.case_id} · ${r.hold_reason}`;
  return r.recording_id;
}

function Releases({ me }) {
  const [items, setItems] = useState(null);
  const [reason, setReason] = useState("");
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  async function load() {
    try {
      setItems((await api("GET", "/v1/release-requests?state=pending")).items);
    } catch (err) {
      setError(explain(err));
    }
  }
  useEffect(() => {
    load();
  }, []);
  async function decide(r, action) {
    setError(null);
    setNote(null);
    try {
      await api("POST", `/v1/release-requests/${r.id}/${action}`, { reason });
      setNote(t("rel.done"));
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  return html`
    <section class="card" aria-labelledby="rel-title" data-testid="releases">
      <h3 id="rel-title">${t("rel.title")}</h3>
      <p class="muted small">${t("rel.hint")}</p>
      <${Field} id="rel-reason" label=${t("adm.reason")}>
        <input id="rel-reason" value=${reason} onInput=${(e) => setReason(e.target.value)} /><//>
      <${Status} error=${error} note=${note} />
      ${items && items.length === 0 && html`<p class="muted">${t("adm.none")}</p>`}
      ${items && items.length > 0 && html`
        <table class="grid small">
          <thead><tr><th scope="col">${t("dnc.kind")}</th><th scope="col">${t("rel.target")}</th>
            <th scope="col">${t("rel.by")}</th><th scope="col">${t("adm.col_reason")}</th>
            <th scope="col">${t("rel.expires")}</th><th scope="col">${t("adm.actions")}</th></tr></thead>
          <tbody>
            ${items.map((r) => html`
              <tr data-testid="release-row" data-request-id=${r.id}>
                <td>${t(`rel.kind.${r.kind}`)}</td><td class="num">${releaseTarget(r)}</td>
                <td>${r.requested_by} (${t(`role.${r.requested_role}`)})</td><td>${r.reason}</td>
                <td>${dateTime(r.expires_at)}</td>
                <td>${r.requested_by === me.user_id ? html`<span class="muted">${t("rel.own")}</span>` : html`
                  <button class="primary" data-testid="approve" disabled=${!reason.trim()}
                          onClick=${() => decide(r, "approve")}>${t("rel.approve")}</button>
                  <button data-testid="reject" disabled=${!reason.trim()}
                          onClick=${() => decide(r, "reject")}>${t("rel.reject")}</button>`}</td>
              </tr>`)}
          </tbody>
        </table>`}
    </section>`;
}

function DoNotCall({ me }) {
  const global = !(me.clients || []).length;
  const [items, setItems] = useState(null);
  const [find, setFind] = useState("");
  const [f, setF] = useState({ value: "", kind: "exact", client: global ? "*" : me.clients[0], reason: "" });
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  async function load(e) {
    if (e) e.preventDefault();
    setError(null);
    try {
      const q = new URLSearchParams(find.trim() ? { number: find.trim() } : {});
      setItems((await api("GET", `/v1/compliance/do-not-call?${q}`)).items);
    } catch (err) {
      setError(explain(err));
    }
  }
  useEffect(() => {
    load();
  }, []);
  async function add(e) {
    e.preventDefault();
    setError(null);
    setNote(null);
    try {
      await api("POST", "/v1/compliance/do-not-call", { value: f.value.trim(), kind: f.kind, client: f.client,
        reason: f.reason });
      setF({ ...f, value: "", reason: "" });
      setNote(t("adm.saved"));
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  async function remove(entry) {
    setError(null);
    setNote(null);
    try {
      const q = new URLSearchParams({ client: entry.client });
      if (f.reason.trim()) q.set("reason", f.reason.trim());
      await api("DELETE", `/v1/compliance/do-not-call/${entry.kind}/${encodeURIComponent(entry.value)}?${q}`);
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`
    <div class="admin-split">
      <section class="card" aria-labelledby="dnc-title">
        <h3 id="dnc-title">${t("dnc.entries")}</h3>
        <form class="row" onSubmit=${add} data-testid="dnc-add">
          <${Field} id="dnc-value" label=${t("dnc.value")}>
            <input id="dnc-value" required class="num" value=${f.value} onInput=${set("value")} /><//>
          <${Field} id="dnc-kind" label=${t("dnc.kind")}>
            <select id="dnc-kind" value=${f.kind} onChange=${set("kind")}>
              <option value="exact">${t("dnc.kind.exact")}</option><option value="prefix">${t("dnc.kind.prefix")}</option>
            </select><//>
          <${Field} id="dnc-client" label=${t("adm.client")}>
            <select id="dnc-client" value=${f.client} onChange=${set("client")}>
              ${global && html`<option value="*">${t("dnc.every")}</option>`}
              ${(me.clients || []).map((c) => html`<option value=${c}>${c}</option>`)}
            </select><//>
          <${Field} id="dnc-reason" label=${t("adm.reason")}><input id="dnc-reason" value=${f.reason} onInput=${set("reason")} /><//>
          <div class="field"><button type="submit" class="primary">${t("dnc.add")}</button></div>
        </form>
        <form class="row" onSubmit=${load} role="search">
          <${Field} id="dnc-find" label=${t("dnc.find")}>
            <input id="dnc-find" class="num" value=${find} onInput=${(e) => setFind(e.target.value)} /><//>
          <div class="field"><button type="submit">${t("dnc.find")}</button></div>
        </form>
        <${Status} error=${error} note=${note} />
        ${items && items.length === 0 && html`<p class="muted">${t("adm.none")}</p>`}
        ${items && items.length > 0 && html`
          <table class="grid small" data-testid="dnc">
            <thead><tr><th scope="col">${t("dnc.col_value")}</th><th scope="col">${t("dnc.kind")}</th>
              <th scope="col">${t("adm.client")}</th><th scope="col">${t("adm.col_reason")}</th>
              <th scope="col">${t("dnc.added_by")}</th><th scope="col">${t("dnc.added_at")}</th>
              <th scope="col">${t("adm.actions")}</th></tr></thead>
            <tbody>
              ${items.map((x) => html`
                <tr data-testid="dnc-row" data-value=${x.value}>
                  <td class="num">${x.value}</td><td>${t(`dnc.kind.${x.kind}`)}</td>
                  <td>${x.client === "*" ? t("dnc.every") : x.client}</td><td>${x.reason}</td><td>${x.added_by}</td>
                  <td>${dateTime(x.added_at)}</td>
                  <td>${me.role === "admin" && (x.client !== "*" || global) && html`
                    <button class="danger" data-testid="dnc-remove" aria-label=${t("dnc.remove_label", { value: x.value })}
                            onClick=${() => remove(x)}>${t("dnc.remove")}</button>`}</td>
                </tr>`)}
            </tbody>
          </table>`}
      </section>
      <${Releases} me=${me} />
    </div>`;
}

// -- webhook subscriptions, deliveries, dead letters and replay ----------------------------------------------

function Deliveries({ sub }) {
  const [state, setState] = useState("dead");
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  async function load() {
    setError(null);
    try {
      const q = new URLSearchParams({ subscription_id: sub.id, limit: "100" });
      if (state) q.set("state", state);
      setItems((await api("GET", `/v1/hooks/deliveries?${q}`)).items);
    } catch (err) {
      setError(explain(err));
    }
  }
  useEffect(() => {
    setNote(null);
    load();
  }, [sub.id, state]);
  async function replay(body) {
    setError(null);
    try {
      setNote(t("hook.replayed", { n: (await api("POST", "/v1/hooks/replay", body)).queued }));
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  return html`
    <section class="card" aria-labelledby="deliveries-title" data-testid="deliveries">
      <h3 id="deliveries-title">${t("hook.deliveries")} · <span class="num">${sub.url}</span></h3>
      <div class="row">
        <${Field} id="del-state" label=${t("hook.state")}>
          <select id="del-state" value=${state} onChange=${(e) => setState(e.target.value)} data-testid="delivery-state">
            <option value="">${t("hook.any_state")}</option>
            ${DELIVERY_STATES.map((s) => html`<option value=${s}>${t(`hook.state.${s}`)}</option>`)}
          </select><//>
        <div class="field"><button onClick=${load}>${t("adm.refresh")}</button></div>
        <div class="field"><button data-testid="replay-all" onClick=${() => replay({ subscription_id: sub.id })}>
          ${t("hook.replay_all")}</button></div>
      </div>
      <${Status} error=${error} note=${note} />
      ${items && items.length === 0 && html`<p class="muted">${t("adm.none")}</p>`}
      ${items && items.length > 0 && html`
        <table class="grid small">
          <thead><tr><th scope="col">#</th><th scope="col">${t("hook.event")}</th><th scope="col">${t("hook.state")}</th>
            <th scope="col">${t("hook.attempts")}</th><th scope="col">${t("hook.last")}</th>
            <th scope="col">${t("tok.created")}</th><th scope="col">${t("adm.actions")}</th></tr></thead>
          <tbody>
            ${items.map((d) => html`
              <tr data-testid="delivery-row" data-delivery-id=${d.id} data-state=${d.state}>
                <td class="num">${d.id}</td><td>${d.event_type}</td><td>${t(`hook.state.${d.state}`)}</td>
                <td class="num">${d.attempts}</td>
                <td>${d.last_status ?? ""} ${d.last_error ? html`<span class="muted">${d.last_error}</span>` : ""}</td>
                <td>${dateTime(d.created_at)}</td>
                <td>${(d.state === "dead" || d.state === "disabled") && html`
                  <button data-testid="replay" aria-label=${t("hook.replay_label", { id: d.id })}
                          onClick=${() => replay({ delivery_ids: [d.id] })}>${t("hook.replay")}</button>`}</td>
              </tr>`)}
          </tbody>
        </table>`}
    </section>`;
}

function Hooks({ me }) {
  const global = !(me.clients || []).length;
  const [subs, setSubs] = useState(null);
  const [chosen, setChosen] = useState(null);
  const [f, setF] = useState({ url: "", types: "call.*, case.*", description: "", client: global ? "" : me.clients[0] });
  const [secret, setSecret] = useState(null);
  const [error, setError] = useState(null);
  async function load() {
    try {
      setSubs((await api("GET", "/v1/hooks/subscriptions")).items);
    } catch (err) {
      setError(explain(err));
    }
  }
  useEffect(() => {
    load();
  }, []);
  async function create(e) {
    e.preventDefault();
    setError(null);
    setSecret(null);
    try {
      const s = await api("POST", "/v1/hooks/subscriptions", { url: f.url.trim(), event_types: list(f.types),
        description: f.description, client: f.client || undefined });
      setSecret(s.secret);
      setF({ ...f, url: "", description: "" });
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  async function toggle(s) {
    setError(null);
    try {
      await api("PATCH", `/v1/hooks/subscriptions/${encodeURIComponent(s.id)}`, { active: !s.active });
      load();
    } catch (err) {
      setError(explain(err));
    }
  }
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`
    <div class="admin-split">
      <section class="card" aria-labelledby="subs-title">
        <h3 id="subs-title">${t("hook.subs")}</h3>
        <form onSubmit=${create} data-testid="new-subscription">
          <div class="row">
            <${Field} id="hook-url" label=${t("hook.url")}><input id="hook-url" type="url" required value=${f.url} onInput=${set("url")} /><//>
            <${Field} id="hook-types" label=${t("hook.types")}><input id="hook-types" required value=${f.types} onInput=${set("types")} /><//>
            <${Field} id="hook-desc" label=${t("hook.description")}><input id="hook-desc" value=${f.description} onInput=${set("description")} /><//>
            <${Field} id="hook-client" label=${t("adm.client")}>
              <select id="hook-client" value=${f.client} onChange=${set("client")}>
                ${global && html`<option value="">${t("adm.all_clients")}</option>`}
                ${(me.clients || []).map((c) => html`<option value=${c}>${c}</option>`)}
              </select><//>
          </div>
          <button type="submit" class="primary">${t("hook.create")}</button>
        </form>
        ${secret && html`<div class="notice" role="status"><label for="hook-secret">${t("hook.secret")}</label>
          <input id="hook-secret" readonly class="num" value=${secret} data-testid="hook-secret" /></div>`}
        <${Status} error=${error} />
        ${subs && subs.length === 0 && html`<p class="muted">${t("adm.none")}</p>`}
        ${subs && subs.length > 0 && html`
          <table class="grid small" data-testid="subscriptions">
            <thead><tr><th scope="col">${t("hook.col_url")}</th><th scope="col">${t("hook.col_types")}</th>
              <th scope="col">${t("adm.client")}</th><th scope="col">${t("hook.state")}</th>
              <th scope="col">${t("adm.actions")}</th></tr></thead>
            <tbody>
              ${subs.map((s) => html`
                <tr data-testid="subscription-row" data-sub-id=${s.id} data-active=${s.active ? "yes" : "no"}>
                  <td class="num">${s.url}${s.description && html`<br /><span class="muted">${s.description}</span>`}</td>
                  <td>${s.event_types.join(", ")}</td><td>${s.client || t("adm.all_clients")}</td>
                  <td>${s.active ? t("hook.active") : html`<span class="muted">${t("hook.disabled")}</span>
                    ${s.disabled_reason && html`<br /><span class="muted small">${s.disabled_reason}</span>`}`}</td>
                  <td>
                    <button class="link" data-testid="show-deliveries" onClick=${() => setChosen(s)}
                            aria-label=${`${t("hook.show_deliveries")} ${s.url}`}>${t("hook.show_deliveries")}</button>
                    <button class="link" data-testid="toggle-subscription" onClick=${() => toggle(s)}>
                      ${s.active ? t("hook.disable") : t("hook.enable")}</button>
                  </td>
                </tr>`)}
            </tbody>
          </table>`}
      </section>
      ${chosen && html`<${Deliveries} key=${chosen.id} sub=${chosen} />`}
    </div>`;
}

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
