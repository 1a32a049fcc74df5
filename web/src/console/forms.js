// Small form pieces shared by the admin's screens: a refusal in the user's words, a labelled field, a status line.
import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);

/** The words of a refusal: the service's message in the user's language, and which fields it names. */
export function explain(err) {
  const fields = (err.details?.errors || []).map((x) => x.field).join(", ");
  const reason = err.details?.reason ? ` (${err.details.reason})` : "";
  return `${err.text()}${fields && !err.text().includes(fields) ? ` ${fields}` : ""}${reason}`;
}

export function list(text) {
  return text.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);
}

/** A status line: an error (role=alert) or a note (role=status). */
export function Status({ error, note }) {
  if (error) return html`<p class="error" role="alert" data-testid="admin-error">${error}</p>`;
  if (note) return html`<p class="ok" role="status" data-testid="admin-note">${note}</p>`;
  return null;
}

export function Field({ id, label, children }) {
  return html`<div class="field"><label for=${id}>${label}</label>${children}</div>`;
}
