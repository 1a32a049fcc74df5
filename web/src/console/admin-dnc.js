// The do-not-call list (add, find, remove) and the two-person release requests another person approves.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { Field, Status, html } from "./forms.js";
import { dateTime, t } from "./i18n.js";
import { Paging, useList } from "./list.js";

function releaseTarget(r) {
  if (r.kind === "do_not_call_number") return `${r.number} · ${r.case_id}`;
  if (r.kind === "case_hold") return `${r.case_id} · ${r.hold_reason}`;
  return r.recording_id;
}

function Releases({ me }) {
  const list = useList("/v1/release-requests", { state: "pending" });
  const items = list.items;
  const [reason, setReason] = useState("");
  const [note, setNote] = useState(null);
  async function decide(r, action) {
    list.fail(null);
    setNote(null);
    try {
      await api("POST", `/v1/release-requests/${r.id}/${action}`, { reason });
      setNote(t("rel.done"));
      list.reload();
    } catch (err) {
      list.fail(err);
    }
  }
  return html`
    <section class="card" aria-labelledby="rel-title" data-testid="releases">
      <h3 id="rel-title">${t("rel.title")}</h3>
      <p class="muted small">${t("rel.hint")}</p>
      <${Field} id="rel-reason" label=${t("adm.reason")}>
        <input id="rel-reason" value=${reason} onInput=${(e) => setReason(e.target.value)} /><//>
      <${Status} error=${list.error} note=${note} />
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
      <${Paging} list=${list} testid="releases-more" />
    </section>`;
}

export function DoNotCall({ me }) {
  const global = !(me.clients || []).length;
  const [find, setFind] = useState("");
  const [number, setNumber] = useState("");
  const list = useList("/v1/compliance/do-not-call", { number });
  const items = list.items;
  const [f, setF] = useState({ value: "", kind: "exact", client: global ? "*" : me.clients[0], reason: "" });
  const [note, setNote] = useState(null);
  function search(e) {
    e.preventDefault();
    if (find.trim() === number) list.reload();
    else setNumber(find.trim());
  }
  async function add(e) {
    e.preventDefault();
    list.fail(null);
    setNote(null);
    try {
      await api("POST", "/v1/compliance/do-not-call", { value: f.value.trim(), kind: f.kind, client: f.client,
        reason: f.reason });
      setF({ ...f, value: "", reason: "" });
      setNote(t("adm.saved"));
      list.reload();
    } catch (err) {
      list.fail(err);
    }
  }
  async function remove(entry) {
    list.fail(null);
    setNote(null);
    try {
      const q = new URLSearchParams({ client: entry.client });
      if (f.reason.trim()) q.set("reason", f.reason.trim());
      await api("DELETE", `/v1/compliance/do-not-call/${entry.kind}/${encodeURIComponent(entry.value)}?${q}`);
      list.reload();
    } catch (err) {
      list.fail(err);
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
        <form class="row" onSubmit=${search} role="search">
          <${Field} id="dnc-find" label=${t("dnc.find")}>
            <input id="dnc-find" class="num" value=${find} onInput=${(e) => setFind(e.target.value)} /><//>
          <div class="field"><button type="submit">${t("dnc.find")}</button></div>
        </form>
        <${Status} error=${list.error} note=${note} />
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
        <${Paging} list=${list} testid="dnc-more" />
      </section>
      <${Releases} me=${me} />
    </div>`;
}
