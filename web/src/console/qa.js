// QA: draw a reproducible sample, play a recording in a two-channel player (agent left, customer right: two
// waveforms drawn from the decoded audio, seeking through the service's HTTP Range answers, speed, keyboard
// shortcuts), and score it on a scorecard. Every listen is logged by the service (the audio request), and the
// recording's access log shows under the player. The sample's period is two calendar days in the user's zone.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { dateTime, duration, lang, myZone, t } from "./i18n.js";

const html = htm.bind(h);
const CHECKLIST = ["qa.item.identified", "qa.item.disclosure", "qa.item.polite", "qa.item.no_threats"];
const SPEEDS = [0.75, 1, 1.25, 1.5, 2];
// how a recorded call ended (the recording's ``outcome``), as the sample's filter offers them
const OUTCOMES = ["completed", "customer_busy", "customer_no_answer", "customer_unreachable", "agent_no_answer",
  "agent_rejected", "agent_unavailable", "cancelled", "failed"];

/** The instant a calendar day (``YYYY-MM-DD``) starts in the user's own zone; ``days`` later for an end. */
function dayStart(day, days = 0) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

/** The sample's filters: the fields given, the period as instants ([from, to] inclusive of the last day). */
function sampleFilters({ client, team, agent, from, to, outcome }) {
  const out = {};
  for (const [key, value] of Object.entries({ client, team, agent, outcome })) {
    if (value.trim()) out[key] = value.trim();
  }
  if (from) out.from = dayStart(from);
  if (to) out.to = dayStart(to, 1);
  return out;
}

/** Peaks of one channel, ``width`` columns: each the largest |sample| of its slice. */
function peaks(data, width) {
  const out = new Float32Array(width);
  const step = Math.max(1, Math.floor(data.length / width));
  for (let x = 0; x < width; x += 1) {
    let max = 0;
    for (let i = x * step, end = Math.min(data.length, i + step); i < end; i += 1) {
      const v = Math.abs(data[i]);
      if (v > max) max = v;
    }
    out[x] = max;
  }
  return out;
}

function drawWave(canvas, channel, progress, color) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const p = peaks(channel, width);
  for (let x = 0; x < width; x += 1) {
    const hgt = Math.max(1, p[x] * height);
    ctx.fillStyle = x / width <= progress ? color : "#b6bec8";
    ctx.fillRect(x, (height - hgt) / 2, 1, hgt);
  }
}

function Player({ rec, onListen }) {
  const audio = useRef(null);
  const waves = [useRef(null), useRef(null)];
  const [channels, setChannels] = useState(null);
  const [time, setTime] = useState(0);
  const [speed, setSpeed] = useState(1);
  const [error, setError] = useState(null);
  const src = `/v1/recordings/${rec.id}/audio`;

  useEffect(() => {
    let live = true;
    setChannels(null);
    (async () => {
      try {
        const resp = await fetch(src, { credentials: "same-origin" });
        if (!resp.ok) throw new Error(String(resp.status));
        const ctx = new OfflineAudioContext(2, 1, 48000);
        const buf = await ctx.decodeAudioData(await resp.arrayBuffer());
        const data = [buf.getChannelData(0), buf.getChannelData(Math.min(1, buf.numberOfChannels - 1))];
        if (live) setChannels(data);
        onListen();
      } catch (err) {
        if (live) setError(t("qa.audio_error"));
      }
    })();
    return () => {
      live = false;
    };
  }, [rec.id]);

  const total = rec.duration_s || (audio.current && audio.current.duration) || 0;
  useEffect(() => {
    if (!channels) return;
    const progress = total ? time / total : 0;
    channels.forEach((data, i) => waves[i].current && drawWave(waves[i].current, data, progress,
      i === 0 ? "#0b5cad" : "#1a7f37"));
  }, [channels, time]);

  useEffect(() => {
    if (audio.current) audio.current.playbackRate = speed;
  }, [speed]);

  function seek(seconds) {
    const a = audio.current;
    if (a) a.currentTime = Math.max(0, Math.min((a.duration || total) - 0.05, a.currentTime + seconds));
  }

  function onKey(e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA" || e.target.tagName === "SELECT") return;
    const a = audio.current;
    if (!a) return;
    if (e.key === " " || e.key === "k") {
      e.preventDefault();
      if (a.paused) a.play();
      else a.pause();
    } else if (e.key === "ArrowLeft" || e.key === "j") seek(-5);
    else if (e.key === "ArrowRight" || e.key === "l") seek(5);
    else if (e.key === "+" || e.key === "]") setSpeed((s) => SPEEDS[Math.min(SPEEDS.length - 1, SPEEDS.indexOf(s) + 1)]);
    else if (e.key === "-" || e.key === "[") setSpeed((s) => SPEEDS[Math.max(0, SPEEDS.indexOf(s) - 1)]);
  }

  function clickWave(e) {
    const a = audio.current;
    const r = e.currentTarget.getBoundingClientRect();
    if (a && total) a.currentTime = ((e.clientX - r.left) / r.width) * total;
  }

  return html`
    <div class="player" tabindex="0" onKeyDown=${onKey} data-testid="player" aria-label=${t("qa.player")}>
      <audio ref=${audio} src=${src} preload="metadata" controls data-testid="audio"
             onTimeUpdate=${(e) => setTime(e.target.currentTime)}></audio>
      ${error && html`<p class="error">${error}</p>`}
      ${[0, 1].map((i) => html`
        <div class="wave">
          <span class="muted small">${t(i === 0 ? "qa.agent_channel" : "qa.customer_channel")}</span>
          <canvas ref=${waves[i]} width="600" height="56" data-testid=${`wave-${i}`} data-drawn=${channels ? "yes" : "no"}
                  onClick=${clickWave} aria-hidden="true"></canvas>
        </div>`)}
      <div class="player-bar">
        <span class="num" data-testid="time">${duration(time)} / ${duration(total)}</span>
        <label for="speed" class="inline">${t("qa.speed")}
          <select id="speed" value=${speed} onChange=${(e) => setSpeed(Number(e.target.value))}>
            ${SPEEDS.map((s) => html`<option value=${s}>${s}×</option>`)}
          </select></label>
        <span class="muted small">${t("qa.keys")}</span>
      </div>
    </div>`;
}

/** An access's instant to the second, in the user's zone, with the zone named (an audit trail's precision). */
function accessTime(iso) {
  return new Intl.DateTimeFormat(lang(), { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" }).format(new Date(iso));
}

/** Who read this recording, when, how, and the answer: the service's access log of one recording. */
function AccessLog({ rec, heard }) {
  const [rows, setRows] = useState([]);
  const [error, setError] = useState(null);

  async function load() {
    setError(null);
    try {
      setRows((await api("GET", `/v1/recordings/access-log?recording_id=${encodeURIComponent(rec.id)}&limit=50`))
        .items || []);
    } catch (err) {
      setError(err.text());
    }
  }
  useEffect(() => {
    load();
  }, [rec.id, heard]);

  return html`
    <section class="card" aria-labelledby="access-title" data-testid="access-log">
      <div class="card-head">
        <h2 id="access-title">${t("qa.access_log")}</h2>
        <button type="button" class="link" onClick=${load} data-testid="access-refresh">${t("qa.refresh")}</button>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!error && rows.length === 0 && html`<p class="muted small">${t("qa.access_none")}</p>`}
      ${rows.length > 0 && html`
        <div class="access" tabindex="0" role="region" aria-labelledby="access-title">
          <table class="grid">
            <thead><tr><th scope="col">${t("qa.access_who")}</th><th scope="col">${t("qa.access_when")}</th>
              <th scope="col">${t("qa.access_action")}</th><th scope="col">${t("qa.access_result")}</th></tr></thead>
            <tbody>${rows.map((r) => html`
              <tr data-testid="access-row" data-user=${r.user_id} data-action=${r.action} data-result=${r.result}>
                <td>${r.user_id} <span class="muted small">${t(`role.${r.role}`)}</span></td>
                <td class="num">${accessTime(r.at)}</td>
                <td>${t(`access.${r.action}`)}</td>
                <td class=${r.result === "granted" ? "ok" : "error"}>${t(`access.result.${r.result}`)}</td>
              </tr>`)}
            </tbody>
          </table>
        </div>`}
    </section>`;
}

function Scorecard({ rec }) {
  const [score, setScore] = useState(80);
  const [checks, setChecks] = useState(Object.fromEntries(CHECKLIST.map((k) => [k, true])));
  const [notes, setNotes] = useState("");
  const [reviews, setReviews] = useState([]);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);

  async function load() {
    try {
      setReviews((await api("GET", `/v1/recordings/${rec.id}/reviews`)).items || []);
    } catch (err) {
      setError(err.text());
    }
  }
  useEffect(() => {
    setSaved(false);
    load();
  }, [rec.id]);

  async function save(e) {
    e.preventDefault();
    setError(null);
    try {
      await api("POST", `/v1/recordings/${rec.id}/reviews`, {
        score: Number(score), notes,
        checklist: CHECKLIST.map((k) => ({ item: t(k), passed: !!checks[k] })),
      });
      setSaved(true);
      load();
    } catch (err) {
      setError(err.text());
    }
  }

  return html`
    <form class="card" onSubmit=${save} aria-labelledby="score-title" data-testid="scorecard">
      <h2 id="score-title">${t("qa.scorecard")}</h2>
      ${CHECKLIST.map((k) => html`<label class="inline"><input type="checkbox" checked=${checks[k]}
        onChange=${(e) => setChecks({ ...checks, [k]: e.target.checked })} />${t(k)}</label><br />`)}
      <label for="score">${t("qa.score")}</label>
      <input id="score" type="number" min="0" max="100" step="1" required value=${score}
             onInput=${(e) => setScore(e.target.value)} />
      <label for="qa-notes">${t("disp.notes")}</label>
      <textarea id="qa-notes" rows="2" value=${notes} onInput=${(e) => setNotes(e.target.value)}></textarea>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" data-testid="save-score">${t("qa.save")}</button>
      ${saved && html`<p class="ok" role="status" data-testid="score-saved">${t("disp.saved")}</p>`}
      ${reviews.length > 0 && html`
        <h3>${t("qa.earlier")}</h3>
        <ul class="reviews">${reviews.map((r) => html`<li>${dateTime(r.created_at || r.at)} · ${r.reviewer || ""} · ${r.score}</li>`)}</ul>`}
    </form>`;
}

export function Qa() {
  const [percent, setPercent] = useState(10);
  const [seed, setSeed] = useState("qa-1");
  const [filters, setFilters] = useState({ client: "", team: "", agent: "", from: "", to: "", outcome: "" });
  const [sample, setSample] = useState(null);
  const [current, setCurrent] = useState(null);
  const [heard, setHeard] = useState(0);
  const [error, setError] = useState(null);
  const zone = myZone();

  function field(name) {
    return { id: `qa-${name}`, value: filters[name], onInput: (e) => setFilters({ ...filters, [name]: e.target.value }) };
  }

  async function draw(e) {
    e.preventDefault();
    setError(null);
    try {
      const out = await api("POST", "/v1/qa/samples", { percent: Number(percent), seed,
        filters: sampleFilters(filters) });
      setSample(out.items);
      setCurrent(out.items[0] || null);
    } catch (err) {
      setError(err.text());
    }
  }

  return html`
    <div class="qa">
      <h1 class="sr-only">${t("nav.qa")}</h1>
      <form class="card qa-form" onSubmit=${draw} data-testid="sample-form" aria-label=${t("qa.draw")}>
        <div><label for="qa-client">${t("case.client")}</label><input ...${field("client")} /></div>
        <div><label for="qa-team">${t("qa.team")}</label><input ...${field("team")} /></div>
        <div><label for="qa-agent">${t("qa.agent")}</label><input ...${field("agent")} /></div>
        <div><label for="qa-from">${t("qa.from")}</label>
          <input type="date" ...${field("from")} onChange=${field("from").onInput} /></div>
        <div><label for="qa-to">${t("qa.to")}</label>
          <input type="date" min=${filters.from || undefined} ...${field("to")} onChange=${field("to").onInput} /></div>
        <div><label for="qa-outcome">${t("qa.outcome")}</label>
          <select id="qa-outcome" value=${filters.outcome}
                  onChange=${(e) => setFilters({ ...filters, outcome: e.target.value })}>
            <option value="">${t("qa.any")}</option>
            ${OUTCOMES.map((o) => html`<option value=${o}>${t(`end.${o}`)}</option>`)}
          </select></div>
        <div><label for="qa-percent">${t("qa.percent")}</label>
          <input id="qa-percent" type="number" min="1" max="100" value=${percent}
                 onInput=${(e) => setPercent(e.target.value)} /></div>
        <div><label for="qa-seed">${t("qa.seed")}</label>
          <input id="qa-seed" value=${seed} onInput=${(e) => setSeed(e.target.value)} /></div>
        <div class="qa-draw"><button type="submit" class="primary" data-testid="draw">${t("qa.draw")}</button>
          <span class="muted small">${t("qa.zone", { zone })}</span></div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${sample && html`
        <div class="qa-grid">
          <section class="card" aria-labelledby="sample-title">
            <h2 id="sample-title">${t("qa.sample", { n: sample.length })}</h2>
            ${sample.length === 0 && html`<p class="muted small" data-testid="sample-empty">${t("qa.sample_empty")}</p>`}
            <ul class="sample">${sample.map((r) => html`
              <li><button class=${current && current.id === r.id ? "link current" : "link"} data-testid="sample-item"
                          data-recording-id=${r.id} onClick=${() => setCurrent(r)}>
                ${r.agent_id} · ${dateTime(r.started_at)} · ${duration(r.duration_s || 0)}</button></li>`)}
            </ul>
          </section>
          ${current && html`
            <div>
              <section class="card" aria-labelledby="player-title">
                <h2 id="player-title">${t("qa.recording")}</h2>
                <${Player} rec=${current} onListen=${() => setHeard((n) => n + 1)} />
              </section>
              <${AccessLog} rec=${current} heard=${heard} />
              <${Scorecard} rec=${current} />
            </div>`}
        </div>`}
    </div>`;
}
