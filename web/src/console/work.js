// The agent's work beside its cases: its due callbacks (GET /v1/callbacks, due first) and its campaigns (join or
// leave; the next case a preview campaign offers, GET /v1/agents/{me}/next, to dial or skip). Dialling is the
// screen's ordinary dial (POST /v1/calls): the gate decides again.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { dateTime, t } from "./i18n.js";

const html = htm.bind(h);
const SKIP_REASONS = ["not_now", "needs_review", "other"];
const SHOWN_STATES = ["running", "paused"];

function Callbacks({ cases, busy, onDial, refresh }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  async function load() {
    try {
      setItems((await api("GET", "/v1/callbacks?view=mine&state=scheduled")).items);
    } catch (err) {
      setError(err.text());
    }
  }
  useEffect(() => {
    load();
  }, [refresh]);
  const now = Date.now();
  return html`
    <section class="card" aria-labelledby="callbacks-title" data-testid="callbacks">
      <h2 id="callbacks-title">${t("work.callbacks")}</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${items && items.length === 0 && html`<p class="muted small">${t("work.no_callbacks")}</p>`}
      ${items && items.length > 0 && html`
        <ul class="worklist">
          ${items.map((cb) => {
            const kase = cases[cb.case_id];
            const due = new Date(cb.due_at).getTime() <= now;
            return html`
              <li data-testid="callback" data-case-id=${cb.case_id} data-due=${due ? "yes" : "no"}>
                <span>${kase ? `${kase.debtor_name} · ${kase.external_id}` : cb.case_id}
                  <br /><span class=${due ? "error small" : "muted small"}>
                    ${t(due ? "work.overdue" : "work.due", { time: dateTime(cb.due_at) })}</span></span>
                <button class="primary" disabled=${busy} data-testid="callback-dial"
                        aria-label=${t("work.dial_case", { name: kase ? kase.debtor_name : cb.case_id })}
                        onClick=${() => onDial(cb.case_id, null)}>${t("work.dial")}</button>
              </li>`;
          })}
        </ul>`}
    </section>`;
}

function Offer({ offer, cases, busy, onDial, onSkipped }) {
  const [reason, setReason] = useState(SKIP_REASONS[0]);
  const [error, setError] = useState(null);
  const kase = cases[offer.case_id];
  async function skip() {
    setError(null);
    try {
      await onSkipped(reason);
    } catch (err) {
      setError(err.text());
    }
  }
  return html`
    <div class="offer" data-testid="offer" data-case-id=${offer.case_id}>
      <p><strong>${kase ? kase.debtor_name : offer.case_id}</strong>${kase ? ` · ${kase.external_id}` : ""}
        · <span class="num">${offer.number}</span>
        <br /><span class="muted small">${t(`work.why.${offer.reason}`)}</span></p>
      <div class="buttons">
        <button class="primary" disabled=${busy} data-testid="offer-dial"
                onClick=${() => onDial(offer.case_id, offer.number)}>${t("work.dial")}</button>
        <label class="sr-only" for="skip-reason">${t("work.skip_reason")}</label>
        <select id="skip-reason" value=${reason} onChange=${(e) => setReason(e.target.value)}>
          ${SKIP_REASONS.map((r) => html`<option value=${r}>${t(`work.skip.${r}`)}</option>`)}
        </select>
        <button disabled=${busy} data-testid="offer-skip" onClick=${skip}>${t("work.skip")}</button>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </div>`;
}

function Campaigns({ me, cases, busy, onDial }) {
  const [items, setItems] = useState(null);
  const [offer, setOffer] = useState(undefined); // undefined: not asked; null: nothing due
  const [error, setError] = useState(null);
  const mine = encodeURIComponent(me.user_id);
  async function load() {
    try {
      const all = (await api("GET", "/v1/campaigns")).items.filter((c) => SHOWN_STATES.includes(c.state));
      setItems(await Promise.all(all.map((c) => api("GET", `/v1/campaigns/${c.id}`))));
    } catch (err) {
      setError(err.text());
    }
  }
  useEffect(() => {
    load();
  }, []);
  async function join(c, joined) {
    setError(null);
    try {
      await api(joined ? "PUT" : "DELETE", `/v1/campaigns/${c.id}/agents/${mine}`);
      setOffer(undefined);
      load();
    } catch (err) {
      setError(err.text());
    }
  }
  async function next() {
    setError(null);
    try {
      setOffer((await api("GET", `/v1/agents/${mine}/next`)).offer);
    } catch (err) {
      setOffer(undefined);
      setError(err.text());
    }
  }
  async function skipped(reason) {
    await api("POST", `/v1/agents/${mine}/next/skip`, { reason });
    next();
  }
  const joinedAny = (items || []).some((c) => c.progress.agents.includes(me.user_id) && c.state === "running");
  return html`
    <section class="card" aria-labelledby="campaigns-title" data-testid="campaigns">
      <h2 id="campaigns-title">${t("work.campaigns")}</h2>
      ${items && items.length === 0 && html`<p class="muted small">${t("work.no_campaigns")}</p>`}
      ${items && items.length > 0 && html`
        <ul class="worklist">
          ${items.map((c) => {
            const joined = c.progress.agents.includes(me.user_id);
            return html`
              <li data-testid="campaign" data-campaign-id=${c.id} data-joined=${joined ? "yes" : "no"}>
                <span>${c.name} <span class="tag">${t(`work.mode.${c.mode}`)}</span>
                  <span class="tag">${t(`work.state.${c.state}`)}</span>
                  <br /><span class="muted small">${t("work.left", { n: c.progress.left, total: c.progress.cases })}</span></span>
                <button data-testid=${joined ? "leave" : "join"}
                        aria-label=${t(joined ? "work.leave_name" : "work.join_name", { name: c.name })}
                        onClick=${() => join(c, !joined)}>${t(joined ? "work.leave" : "work.join")}</button>
              </li>`;
          })}
        </ul>`}
      ${joinedAny && html`<button class="primary" data-testid="next" disabled=${busy} onClick=${next}>${t("work.next")}</button>`}
      ${offer === null && html`<p class="muted small" role="status">${t("work.nothing_due")}</p>`}
      ${offer && html`<${Offer} key=${offer.entry_id} offer=${offer} cases=${cases} busy=${busy}
                               onDial=${onDial} onSkipped=${skipped} />`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>`;
}

/** Callbacks and campaigns; ``cases`` by id (for names), ``onDial(caseId, number|null)``. */
export function Work({ me, cases, busy, onDial, refresh }) {
  return html`
    <${Callbacks} cases=${cases} busy=${busy} onDial=${onDial} refresh=${refresh} />
    <${Campaigns} me=${me} cases=${cases} busy=${busy} onDial=${onDial} />`;
}
