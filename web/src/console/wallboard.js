// The wallboard: calls in progress (live from the event stream, no reload) and today's counts from the
// reports API, for supervisors, managers and admins.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, liveEvents } from "./api.js";
import { duration, myZone, number, t } from "./i18n.js";

const html = htm.bind(h);
const REFRESH_MS = 30000;

function today(zone) {
  // the report reads a plain date as local midnight in tz
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(new Date());
}

export function Wallboard() {
  const [calls, setCalls] = useState({});
  const [counts, setCounts] = useState(null);
  const [byAgent, setByAgent] = useState([]);
  const [error, setError] = useState(null);
  const [health, setHealth] = useState({});
  const [live, setLive] = useState(false);
  const [, tick] = useState(0);
  const zone = myZone();

  async function loadCounts() {
    try {
      const q = `from=${today(zone)}&tz=${encodeURIComponent(zone)}`;
      const [rate, talk] = await Promise.all([
        api("GET", `/v1/reports/connect-rate?${q}&group_by=agent`),
        api("GET", `/v1/reports/talk-time?${q}`),
      ]);
      setCounts({ ...rate.totals, talk_total: talk.totals.talk_total });
      loadHealth();
      setByAgent(rate.rows || []);
      setError(null);
    } catch (err) {
      setError(err.text());
    }
  }

  /** Blocked dials by rule, recordings missing or failed, webhook dead letters: each where the role may read it. */
  async function loadHealth() {
    const since = new Date(`${today(zone)}T00:00:00`);
    const out = {};
    const tries = [
      ["blocked", async () => {
        const q = new URLSearchParams({ allowed: "false", from: since.toISOString(), limit: "500" });
        const page = await api("GET", `/v1/compliance/decisions?${q}`);
        const byRule = {};
        for (const d of page.items.filter((x) => x.kind !== "check")) byRule[d.code || "blocked"] = (byRule[d.code || "blocked"] || 0) + 1;
        return { byRule, more: !!page.next_cursor };
      }],
      ["missing", async () => (await api("GET", "/v1/recordings/gaps?kind=missing")).items.length],
      ["failed", async () => (await api("GET", "/v1/recordings?state=failed&limit=500")).items.length],
      ["dead", async () => (await api("GET", "/v1/hooks/deliveries?state=dead")).items.length],
    ];
    await Promise.all(tries.map(async ([key, fn]) => {
      try {
        out[key] = await fn();
      } catch (err) {
        if (err.status !== 403) out[key] = { error: err };
      }
    }));
    setHealth(out);
  }

  async function loadCalls() {
    try {
      const page = await api("GET", "/v1/calls?limit=100");
      const open = {};
      for (const c of page.items) {
        if (c.state !== "ended") open[c.id] = { id: c.id, agent: c.agent, number: c.number, state: c.state,
          since: Date.parse(c.answered_at || c.created_at) };
      }
      setCalls(open);
    } catch (err) {
      setError(err.text());
    }
  }

  useEffect(() => {
    loadCalls();
    loadCounts();
    const timer = setInterval(loadCounts, REFRESH_MS);
    const clock = setInterval(() => tick((n) => n + 1), 1000);
    const stop = liveEvents(["call."], (type, ev) => {
      const state = type.slice("call.".length);
      setCalls((prev) => {
        const next = { ...prev };
        if (state === "ended") {
          delete next[ev.call_id];
        } else if (["requested", "agent_ringing", "agent_answered", "customer_ringing", "answered"].includes(state)) {
          const old = prev[ev.call_id];
          next[ev.call_id] = { id: ev.call_id, agent: ev.agent_id, number: old?.number, state,
            since: state === "answered" ? Date.parse(ev.occurred_at) : (old?.since ?? Date.parse(ev.occurred_at)) };
        }
        return next;
      });
      if (state === "ended" || state === "answered") loadCounts();
    }, (ok) => {
      setLive(ok);
      if (ok) loadCalls();
    });
    return () => {
      clearInterval(timer);
      clearInterval(clock);
      stop();
    };
  }, []);

  const rows = Object.values(calls).sort((a, b) => a.since - b.since);
  const rate = counts && counts.connect_rate != null ? number(Number(counts.connect_rate), { style: "percent",
    maximumFractionDigits: 1 }) : "–";
  return html`
    <div class="wall">
      <h1 class="sr-only">${t("wall.title")}</h1>
      <section class="card" aria-labelledby="today-title">
        <h2 id="today-title">${t("wall.today", { zone })}</h2>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <div class="tiles" data-testid="today">
          <div class="tile"><span class="big" data-testid="attempts">${counts ? number(counts.attempts) : "–"}</span>
            <span>${t("wall.attempts")}</span></div>
          <div class="tile"><span class="big" data-testid="connects">${counts ? number(counts.connected) : "–"}</span>
            <span>${t("wall.connects")}</span></div>
          <div class="tile"><span class="big">${rate}</span><span>${t("wall.connect_rate")}</span></div>
          <div class="tile"><span class="big">${counts ? duration(counts.talk_total || 0) : "–"}</span>
            <span>${t("wall.talk")}</span></div>
        </div>
        ${byAgent.length > 0 && html`
          <table class="grid">
            <thead><tr><th scope="col">${t("wall.agent")}</th><th scope="col">${t("wall.attempts")}</th>
              <th scope="col">${t("wall.connects")}</th><th scope="col">${t("wall.connect_rate")}</th>
              <th scope="col">${t("wall.blocked")}</th></tr></thead>
            <tbody>${byAgent.map((r) => html`<tr><th scope="row">${r.agent}</th><td class="num">${number(r.attempts)}</td>
              <td class="num">${number(r.connected)}</td>
              <td class="num">${r.connect_rate == null ? "–" : number(Number(r.connect_rate), { style: "percent",
                maximumFractionDigits: 1 })}</td><td class="num">${number(r.blocked || 0)}</td></tr>`)}</tbody>
          </table>`}
      </section>
      <${Health} health=${health} />
      <section class="card" aria-labelledby="inprogress-title">
        <h2 id="inprogress-title">${t("wall.in_progress")}
          <span class=${live ? "live ok" : "live"}>${live ? t("live.connected") : t("live.reconnecting")}</span></h2>
        ${rows.length === 0 ? html`<p class="muted" data-testid="no-calls">${t("wall.none")}</p>` : html`
          <table class="grid" data-testid="live-calls">
            <thead><tr><th scope="col">${t("wall.agent")}</th><th scope="col">${t("wall.state")}</th>
              <th scope="col">${t("wall.duration")}</th></tr></thead>
            <tbody>${rows.map((c) => html`
              <tr data-testid="live-call" data-call-id=${c.id}>
                <th scope="row">${c.agent}</th><td><span class=${`dot ${c.state}`}></span>${t(`call.state.${c.state}`)}</td>
                <td class="num">${duration((Date.now() - c.since) / 1000)}</td>
              </tr>`)}</tbody>
          </table>`}
      </section>
    </div>`;
}

function count(v) {
  if (v === undefined) return null;
  if (v && v.error) return v.error.text();
  return number(v);
}

function Health({ health }) {
  const blocked = health.blocked && !health.blocked.error ? Object.entries(health.blocked.byRule) : null;
  const items = [["missing", "wall.rec_missing"], ["failed", "wall.rec_failed"], ["dead", "wall.dead_letters"]]
    .filter(([key]) => health[key] !== undefined);
  if (!blocked && items.length === 0) return null;
  return html`
    <section class="card" aria-labelledby="health-title" data-testid="health">
      <h2 id="health-title">${t("wall.health")}</h2>
      <div class="split">
        ${blocked && html`
          <div>
            <h3>${t("wall.blocked_by_rule")}</h3>
            ${blocked.length === 0 ? html`<p class="muted">${t("wall.none_blocked")}</p>` : html`
              <table class="grid" data-testid="blocked-by-rule">
                <thead><tr><th scope="col">${t("wall.rule")}</th><th scope="col">${t("wall.count")}</th></tr></thead>
                <tbody>${blocked.sort((a, b) => b[1] - a[1]).map(([code, n]) => html`
                  <tr><th scope="row">${t(`rule.${code}`)}</th><td class="num">${number(n)}${health.blocked.more ? "+" : ""}</td></tr>`)}
                </tbody>
              </table>`}
          </div>`}
        ${items.length > 0 && html`
          <div class="tiles small-tiles">
            ${items.map(([key, label]) => html`
              <div class="tile"><span class="big">${count(health[key])}</span><span>${t(label)}</span></div>`)}
          </div>`}
      </div>
    </section>`;
}
