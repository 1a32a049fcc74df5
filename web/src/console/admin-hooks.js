// Webhook subscriptions with their deliveries, dead letters and replay.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { Field, Status, html, list as words } from "./forms.js";
import { dateTime, t } from "./i18n.js";
import { Paging, useList } from "./list.js";

const DELIVERY_STATES = ["dead", "pending", "delivered", "disabled"];

function Deliveries({ sub }) {
  const [state, setState] = useState("dead");
  const deliveries = useList("/v1/hooks/deliveries", { subscription_id: sub.id, state, limit: 100 });
  const items = deliveries.items;
  const [note, setNote] = useState(null);
  async function replay(body) {
    deliveries.fail(null);
    try {
      setNote(t("hook.replayed", { n: (await api("POST", "/v1/hooks/replay", body)).queued }));
      deliveries.reload();
    } catch (err) {
      deliveries.fail(err);
    }
  }
  return html`
    <section class="card" aria-labelledby="deliveries-title" data-testid="deliveries">
      <h3 id="deliveries-title">${t("hook.deliveries")} · <span class="num">${sub.url}</span></h3>
      <div class="row">
        <${Field} id="del-state" label=${t("hook.state")}>
          <select id="del-state" value=${state} onChange=${(e) => { setNote(null); setState(e.target.value); }}
                  data-testid="delivery-state">
            <option value="">${t("hook.any_state")}</option>
            ${DELIVERY_STATES.map((s) => html`<option value=${s}>${t(`hook.state.${s}`)}</option>`)}
          </select><//>
        <div class="field"><button onClick=${deliveries.reload}>${t("adm.refresh")}</button></div>
        <div class="field"><button data-testid="replay-all" onClick=${() => replay({ subscription_id: sub.id })}>
          ${t("hook.replay_all")}</button></div>
      </div>
      <${Status} error=${deliveries.error} note=${note} />
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
      <${Paging} list=${deliveries} testid="deliveries-more" />
    </section>`;
}

export function Hooks({ me }) {
  const global = !(me.clients || []).length;
  const subscriptions = useList("/v1/hooks/subscriptions");
  const subs = subscriptions.items;
  const [chosen, setChosen] = useState(null);
  const [f, setF] = useState({ url: "", types: "call.*, case.*", description: "", client: global ? "" : me.clients[0] });
  const [secret, setSecret] = useState(null);
  async function create(e) {
    e.preventDefault();
    subscriptions.fail(null);
    setSecret(null);
    try {
      const s = await api("POST", "/v1/hooks/subscriptions", { url: f.url.trim(), event_types: words(f.types),
        description: f.description, client: f.client || undefined });
      setSecret(s.secret);
      setF({ ...f, url: "", description: "" });
      subscriptions.reload();
    } catch (err) {
      subscriptions.fail(err);
    }
  }
  async function toggle(s) {
    subscriptions.fail(null);
    try {
      await api("PATCH", `/v1/hooks/subscriptions/${encodeURIComponent(s.id)}`, { active: !s.active });
      subscriptions.reload();
    } catch (err) {
      subscriptions.fail(err);
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
        <${Status} error=${subscriptions.error} />
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
        <${Paging} list=${subscriptions} testid="subscriptions-more" />
      </section>
      ${chosen && html`<${Deliveries} key=${chosen.id} sub=${chosen} />`}
    </div>`;
}
