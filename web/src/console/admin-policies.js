// A client's policy: its calling window, caps and third-party rules (the client's own tightening of its profile).
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Field, Status, explain, html, list } from "./forms.js";
import { dateTime, t } from "./i18n.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CAPS = ["max_unanswered_per_number_per_day", "max_connected_per_debtor_per_day",
  "max_attempts_per_debtor_rolling_7d", "quiet_days_after_conversation"];

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

export function Policies({ me }) {
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
