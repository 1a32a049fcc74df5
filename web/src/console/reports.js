// Reports for managers and supervisors: a report over a date range in the user's zone, grouped by a dimension,
// as a chart (echarts, loaded on first use) and a table, with the same numbers as CSV and XLSX downloads.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { lang, myZone, number, t } from "./i18n.js";

const html = htm.bind(h);
const REPORTS = {
  "connect-rate": { bars: ["attempts", "connected"], line: "connect_rate", percent: true },
  "talk-time": { bars: ["talk_median", "talk_p90"], line: null },
  outcomes: { bars: ["right_party_contacts", "promises"], line: "promise_rate", percent: true },
};
const GROUPS = ["day", "week", "month", "agent", "team", "client"];
const RATES = new Set(["connect_rate", "right_party_rate", "promise_rate", "first_call_sla_rate"]);

function isoDay(d) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: myZone() }).format(d);
}

function nextDay(day) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function cell(column, v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${x}`).join("; ");
  if (RATES.has(column)) return number(Number(v), { style: "percent", maximumFractionDigits: 1 });
  if (typeof v === "number") return number(v, { maximumFractionDigits: 1 });
  return String(v);
}

function label(column) {
  for (const key of [`col.${column}`, `dim.${column}`]) {
    const text = t(key);
    if (text !== key) return text;
  }
  return column;
}

export function Reports() {
  const today = isoDay(new Date());
  const [report, setReport] = useState("connect-rate");
  const [group, setGroup] = useState("day");
  const [from, setFrom] = useState(today);
  const [to, setTo] = useState(today);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const chartRef = useRef(null);
  const zone = myZone();
  const query = new URLSearchParams({ group_by: group, from, to: nextDay(to), tz: zone });

  useEffect(() => {
    let live = true;
    setError(null);
    api("GET", `/v1/reports/${report}?${query}`).then((d) => live && setData(d)).catch((err) => {
      if (live) {
        setError(err.text());
        setData(null);
      }
    });
    return () => {
      live = false;
    };
  }, [report, group, from, to]);

  const spec = data && chartSpec(report, group, data);
  useEffect(() => {
    if (!spec || !chartRef.current) return undefined;
    let dispose = null;
    let live = true;
    import("./chart.js").then(({ draw }) => {
      if (live && chartRef.current) dispose = draw(chartRef.current, spec, lang());
    });
    return () => {
      live = false;
      if (dispose) dispose();
    };
  }, [data, lang()]);

  return html`
    <div class="reports">
      <h1 class="sr-only">${t("nav.reports")}</h1>
      <form class="card controls" onSubmit=${(e) => e.preventDefault()}>
        <div><label for="report">${t("rep.report")}</label>
          <select id="report" value=${report} onChange=${(e) => setReport(e.target.value)}>
            ${Object.keys(REPORTS).map((r) => html`<option value=${r}>${t(`rep.${r}`)}</option>`)}
          </select></div>
        <div><label for="group">${t("rep.group_by")}</label>
          <select id="group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
            ${GROUPS.map((g) => html`<option value=${g}>${t(`dim.${g}`)}</option>`)}
          </select></div>
        <div><label for="from">${t("rep.from")}</label>
          <input id="from" type="date" value=${from} onChange=${(e) => setFrom(e.target.value)} /></div>
        <div><label for="to">${t("rep.to")}</label>
          <input id="to" type="date" value=${to} onChange=${(e) => setTo(e.target.value)} /></div>
        <p class="muted small zone">${t("rep.zone", { zone })}</p>
        <div class="downloads">
          <a href=${`/v1/reports/${report}?${query}&format=csv`} download data-testid="csv">CSV</a>
          <a href=${`/v1/reports/${report}?${query}&format=xlsx`} download data-testid="xlsx">XLSX</a>
        </div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${data && html`
        <section class="card" aria-labelledby="chart-title">
          <h2 id="chart-title">${t(`rep.${report}`)}</h2>
          <div class="chart" ref=${chartRef} role="img" aria-label=${t(`rep.${report}`)} data-testid="chart"
               data-series=${JSON.stringify(spec)}></div>
          <table class="grid" data-testid="report-table">
            <thead><tr>${data.columns.map((c) => html`<th scope="col">${label(c)}</th>`)}</tr></thead>
            <tbody>
              ${data.rows.map((r) => html`<tr>${data.columns.map((c, i) => i < data.group_by.length
                ? html`<th scope="row">${cell(c, r[c])}</th>` : html`<td class="num">${cell(c, r[c])}</td>`)}</tr>`)}
              <tr class="total">${data.columns.map((c, i) => i < data.group_by.length
                ? html`<th scope="row">${i === 0 ? t("rep.total") : ""}</th>`
                : html`<td class="num" data-column=${c}>${cell(c, data.totals[c])}</td>`)}</tr>
            </tbody>
          </table>
        </section>`}
    </div>`;
}

function chartSpec(report, group, data) {
  const shape = REPORTS[report];
  const x = data.rows.map((r) => String(r[group] ?? ""));
  const num = (v) => (v === null || v === undefined ? null : Number(v));
  return {
    x,
    bars: shape.bars.map((m) => ({ name: label(m), key: m, data: data.rows.map((r) => num(r[m])) })),
    line: shape.line ? { name: label(shape.line), key: shape.line, percent: shape.percent,
      data: data.rows.map((r) => num(r[shape.line])) } : null,
  };
}
