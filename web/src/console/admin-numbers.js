// A client's presented numbers (the caller numbers its calls show customers, the primary first): read, and for
// an admin added, made primary or removed (the API replaces the whole list).
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Field, Status, explain, html } from "./forms.js";
import { dateTime, t } from "./i18n.js";

export function PresentedNumbers({ me }) {
  const global = !(me.clients || []).length;
  const [client, setClient] = useState(global ? "" : me.clients[0]);
  const [shown, setShown] = useState(global ? "" : me.clients[0]);
  const [doc, setDoc] = useState(undefined); // undefined: not loaded; null: the client has none
  const [number, setNumber] = useState("");
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const canEdit = me.role === "admin";
  async function load(id) {
    setError(null);
    if (!id) return;
    try {
      setDoc(await api("GET", `/v1/clients/${encodeURIComponent(id)}/presented-numbers`));
    } catch (err) {
      if (err.code === "no-presented-numbers") setDoc(null);
      else {
        setDoc(undefined);
        setError(explain(err));
      }
    }
  }
  useEffect(() => {
    setNote(null);
    load(shown);
  }, [shown]);
  async function put(numbers) {
    setError(null);
    setNote(null);
    try {
      setDoc(await api("PUT", `/v1/clients/${encodeURIComponent(shown)}/presented-numbers`, { numbers }));
      setNote(t("adm.saved"));
      return true;
    } catch (err) {
      setError(explain(err));
      return false;
    }
  }
  const numbers = (doc && doc.numbers) || [];
  async function add(e) {
    e.preventDefault();
    if (await put([...numbers, number.trim()])) setNumber("");
  }
  return html`
    <section class="card" aria-labelledby="pn-title" data-testid="presented-numbers">
      <h3 id="pn-title">${t("pn.title")}</h3>
      <p class="muted small">${t("pn.hint")}</p>
      <form class="row" onSubmit=${(e) => { e.preventDefault(); setShown(client.trim()); if (client.trim() === shown) load(shown); }}>
        <${Field} id="pn-client" label=${t("adm.client")}>
          ${global ? html`<input id="pn-client" required value=${client} onInput=${(e) => setClient(e.target.value)} />`
            : html`<select id="pn-client" value=${client} onChange=${(e) => { setClient(e.target.value); setShown(e.target.value); }}>
                ${me.clients.map((c) => html`<option value=${c}>${c}</option>`)}</select>`}<//>
        <div class="field"><button type="submit">${t("pn.show")}</button></div>
      </form>
      <${Status} error=${error} note=${note} />
      ${doc === null && html`<p class="muted" data-testid="pn-none">${t("pn.none")}</p>`}
      ${doc && html`
        <p class="small muted">${t("pn.updated", { by: doc.updated_by, at: dateTime(doc.updated_at) })}</p>
        <table class="grid small" data-testid="pn-list">
          <thead><tr><th scope="col">${t("pn.number")}</th><th scope="col">${t("pn.primary")}</th>
            ${canEdit && html`<th scope="col">${t("adm.actions")}</th>`}</tr></thead>
          <tbody>
            ${numbers.map((n, i) => html`
              <tr data-testid="pn-row" data-number=${n}>
                <td class="num">${n}</td><td>${i === 0 ? t("adm.yes") : ""}</td>
                ${canEdit && html`<td>
                  ${i > 0 && html`<button class="link" data-testid="pn-primary"
                    onClick=${() => put([n, ...numbers.filter((x) => x !== n)])}>${t("pn.make_primary")}</button>`}
                  <button class="danger" data-testid="pn-remove" aria-label=${t("pn.remove_label", { n })}
                    onClick=${() => put(numbers.filter((x) => x !== n))}>${t("dnc.remove")}</button></td>`}
              </tr>`)}
          </tbody>
        </table>`}
      ${canEdit && shown && doc !== undefined && html`
        <form class="row" onSubmit=${add} data-testid="pn-add">
          <${Field} id="pn-number" label=${t("pn.number")}>
            <input id="pn-number" required class="num" placeholder="+8613800138000" value=${number}
                   onInput=${(e) => setNumber(e.target.value)} /><//>
          <div class="field"><button type="submit" class="primary">${t("pn.add")}</button></div>
        </form>`}
    </section>`;
}
