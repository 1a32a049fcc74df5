// One list of the public API for every admin screen: the first page, the next ones on demand through the API's
// own cursor (``next_cursor`` -> ``cursor``, ``next_before_id`` -> ``before_id``), a loading state and one error line.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { explain, html } from "./forms.js";
import { t } from "./i18n.js";

// the answer's field naming the next page -> the query parameter that asks for it
const CURSORS = [["next_cursor", "cursor"], ["next_before_id", "before_id"], ["next_before", "before"]];

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && String(v).trim() !== "") q.set(k, String(v).trim());
  }
  return q;
}

function nextOf(page) {
  for (const [field, param] of CURSORS) {
    if (page && page[field] !== undefined && page[field] !== null) return [param, page[field]];
  }
  return null;
}

/**
 * ``GET path?params`` as a list: ``items`` (null until the first page), ``loading``, ``error`` (the one error
 * line, also for the screen's own acts through ``fail``), ``more`` (a function while the API names a next page),
 * ``reload`` and ``setItems``. A change of path or params starts again from the first page.
 */
export function useList(path, params = {}) {
  const key = path ? `${path}?${query(params)}` : null;
  const [items, setItems] = useState(null);
  const [next, setNext] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  const generation = useRef(0); // an answer for an older path or filter is dropped
  async function load(after) {
    if (!key) return;
    const mine = after ? generation.current : ++generation.current;
    setLoading(true);
    setError(null);
    try {
      const q = query(params);
      if (after) q.set(after[0], String(after[1]));
      const page = await api("GET", `${path}?${q}`);
      if (mine !== generation.current) return;
      setItems((prev) => (after ? [...(prev || []), ...page.items] : page.items));
      setNext(nextOf(page));
    } catch (err) {
      if (mine === generation.current) setError(explain(err));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }
  useEffect(() => {
    setItems(null);
    setNext(null);
    load(null);
  }, [key]);
  return {
    items, loading, error, setItems,
    reload: () => load(null),
    more: next ? () => load(next) : null,
    fail: (err) => setError(err ? explain(err) : null),
  };
}

/** Under a list: loading, "none", and the control for the next page while there is one. */
export function Paging({ list, testid = "more" }) {
  return html`
    ${list.items === null && list.loading && html`<p class="muted">${t("adm.loading")}</p>`}
    ${list.items && list.items.length === 0 && html`<p class="muted">${t("adm.none")}</p>`}
    ${list.more && html`
      <p><button data-testid=${testid} disabled=${list.loading} onClick=${list.more}>
        ${list.loading ? t("adm.loading") : t("list.more")}</button>
        <span class="muted small" data-testid=${`${testid}-shown`}>${t("list.shown", { n: list.items.length })}</span></p>`}`;
}
