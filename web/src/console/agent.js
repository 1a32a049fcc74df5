// The agent's screen: my cases (the gate's answer beside each number), one-click dial, the live call and
// the disposition form (kept, across reloads too, until it is saved).
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api, liveEvents } from "./api.js";
import { dateTime, duration, lang, money, myZone, t, timeOnly } from "./i18n.js";
import { Work } from "./work.js";

const html = htm.bind(h);
const PENDING = "callguard.pending-disposition";
const OUTCOMES = ["right_party_contact", "promise_to_pay", "refuses", "callback_requested", "no_answer", "busy",
  "left_message", "wrong_number", "third_party_answered", "dispute", "suspected_fraud", "deceased", "other"];

function loadPending() {
  try {
    return JSON.parse(localStorage.getItem(PENDING) || "null");
  } catch {
    return null;
  }
}

function savePending(value) {
  try {
    if (value) localStorage.setItem(PENDING, JSON.stringify(value));
    else localStorage.removeItem(PENDING);
  } catch {
    /* not remembered */
  }
}

function Gate({ check, zone }) {
  if (!check) return html`<span class="gate muted">${t("gate.checking")}</span>`;
  if (check.error) return html`<span class="gate blocked" role="note">${check.error.text()}</span>`;
  if (check.allowed) return html`<span class="gate allowed">✓ ${t("gate.allowed")}</span>`;
  return html`
    <span class="gate blocked" role="note" data-testid="gate-blocked">
      <strong>${t("gate.blocked")}</strong>: ${localized(check)}
      ${check.next_allowed_at && html`<br />${t("gate.next", { time: dateTime(check.next_allowed_at) })}
        ${zone && zone !== myZone() && html` · ${t("gate.next_local", { time: dateTime(check.next_allowed_at, zone) })}`}`}
    </span>`;
}

function CaseRow({ kase, me, checks, busy, onDial, historyKey }) {
  const zone = kase.timezone || (checks[kase.contacts[0]?.number]?.zones || [])[0]?.zone;
  const holds = kase.holds.filter((hold) => !hold.released_at);
  const now = new Date();
  return html`
    <article class="case card" data-testid="case" data-case-id=${kase.id} aria-labelledby=${`case-${kase.id}`}>
      <h3 id=${`case-${kase.id}`}>${kase.debtor_name} <span class="muted">· ${kase.external_id}</span></h3>
      <dl class="facts">
        <div><dt>${t("case.client")}</dt><dd>${kase.client_id}</dd></div>
        <div><dt>${t("case.amount")}</dt><dd class="num">${money(kase.amount, kase.currency)}</dd></div>
        <div><dt>${t("case.overdue")}</dt><dd>${t("case.overdue_days", { n: kase.days_overdue })}</dd></div>
        <div><dt>${t("case.holds")}</dt>
          <dd>${holds.length ? holds.map((hold) => hold.reason).join(", ") : t("case.no_holds")}</dd></div>
      </dl>
      ${zone && html`<p class="muted small">${t("case.local_time", {
        time: timeOnly(now, zone), zone, mine: `${timeOnly(now)} (${myZone()})` })}</p>`}
      <ul class="numbers" aria-label=${t("case.numbers")}>
        ${kase.contacts.filter((c) => !c.removed).map((c) => {
          const check = checks[c.number];
          return html`
            <li class="number" data-testid="number" data-number=${c.number}>
              <span class="num">${c.number}</span>
              <span class="tag">${t(`number.kind.${c.kind}`)}</span>
              <span class="tag">${t(`number.status.${c.status}`)}</span>
              <${Gate} check=${check} zone=${zone} />
              <button class="primary" disabled=${busy} data-testid="dial"
                      aria-label=${t("dial", { number: c.number })}
                      onClick=${() => onDial(kase, c.number)}>${t("dial", { number: "" }).trim()}</button>
            </li>`;
        })}
      </ul>
      <${History} key=${historyKey} kase=${kase} me=${me} zone=${zone} />
    </article>`;
}

/** A recording of the history: an audio player once asked for (each load of the audio is a logged listen). */
function Listen({ row }) {
  const [open, setOpen] = useState(false);
  const [failed, setFailed] = useState(false);
  if (!open) {
    return html`<button class="link" data-testid="listen" onClick=${() => setOpen(true)}
      aria-label=${t("hist.listen_label", { at: dateTime(row.at) })}>▶ ${t("hist.listen")}</button>`;
  }
  if (failed) return html`<span class="error small" role="alert">${t("hist.audio_error")}</span>`;
  return html`<audio controls preload="metadata" src=${`/v1/recordings/${encodeURIComponent(row.recording_id)}/audio`}
    data-testid="history-audio" aria-label=${t("hist.listen_label", { at: dateTime(row.at) })}
    onError=${() => setFailed(true)}></audio>`;
}

/** The case's contact history (GET /v1/cases/{id}/contacts, read each time it is opened: each read is audited), newest
 * first, with a player for the recordings of the agent's own calls (the recordings rule; the service decides). */
function History({ kase, me, zone }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  async function load() {
    setError(null);
    try {
      const doc = await api("GET", `/v1/cases/${encodeURIComponent(kase.id)}/contacts`);
      setRows([...doc.items].reverse());
    } catch (err) {
      setError(err.text());
    }
  }
  return html`
    <details class="history" data-testid="history"
             onToggle=${(e) => { if (e.target.open) load(); }}>
      <summary>${t("hist.show")}</summary>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${rows === null && !error && html`<p class="muted small">${t("hist.loading")}</p>`}
      ${rows && rows.length === 0 && html`<p class="muted small">${t("hist.empty")}</p>`}
      ${rows && rows.length > 0 && html`
        <table class="grid small" aria-label=${t("hist.title")}>
          <thead><tr><th scope="col">${t("hist.at")}</th><th scope="col">${t("hist.agent")}</th>
            <th scope="col">${t("hist.number")}</th><th scope="col">${t("hist.result")}</th>
            <th scope="col">${t("hist.talk")}</th><th scope="col">${t("hist.recording")}</th></tr></thead>
          <tbody>
            ${rows.map((r) => html`
              <tr data-testid="history-row" data-call-id=${r.call_id}>
                <td>${dateTime(r.at)}${zone && zone !== myZone() ? html`<br /><span class="muted">${dateTime(r.at, zone)}</span>` : ""}</td>
                <td>${r.agent_id}</td>
                <td class="num">${r.number}</td>
                <td>${r.outcome ? t(`outcome.${r.outcome}`) : r.connected ? t("hist.connected") : t("hist.not_connected")}</td>
                <td class="num">${r.talk_seconds ? duration(r.talk_seconds) : "—"}</td>
                <td>${!r.recording_id ? html`<span class="muted">${t("hist.no_recording")}</span>`
                  : r.agent_id === me.user_id ? html`<${Listen} row=${r} />`
                    : html`<span class="muted">${t("hist.not_yours")}</span>`}</td>
              </tr>`)}
          </tbody>
        </table>
        <p class="muted small">${t("hist.logged")}</p>`}
    </details>`;
}

const PAUSE_CODES = ["break", "training", "meeting", "system"];

/** The agent's own presence (GET/PUT /v1/agents/{me}/state): available or paused with a reason. */
function Presence({ me, state, onChange }) {
  const [code, setCode] = useState("break");
  const [error, setError] = useState(null);
  async function put(body) {
    setError(null);
    try {
      onChange(await api("PUT", `/v1/agents/${encodeURIComponent(me.user_id)}/state`, body));
    } catch (err) {
      setError(err.text());
    }
  }
  if (!state) return null;
  const paused = state.state === "paused" || state.state === "offline";
  return html`
    <div class="presence" data-testid="presence" data-state=${state.state}>
      <span class=${`dot ${state.state}`}></span>
      <strong>${t(`presence.${state.state}`)}</strong>
      ${state.pause_code && html`<span class="muted"> · ${t(`pause.${state.pause_code}`)}</span>`}
      ${paused ? html`<button onClick=${() => put({ state: "available" })} data-testid="resume">${t("presence.resume")}</button>`
        : html`
          <span class="pause">
            <label class="sr-only" for="pause-code">${t("presence.pause_reason")}</label>
            <select id="pause-code" value=${code} onChange=${(e) => setCode(e.target.value)}>
              ${PAUSE_CODES.map((c) => html`<option value=${c}>${t(`pause.${c}`)}</option>`)}
            </select>
            <button onClick=${() => put({ state: "paused", pause_code: code })} data-testid="pause"
                    disabled=${state.state !== "available"}>${t("presence.pause")}</button>
          </span>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </div>`;
}

function CallPanel({ call, onHangup, error }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (!call || call.state !== "answered") return undefined;
    const id = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, [call && call.state]);
  if (!call) return html`<p class="muted">${t("call.none")}</p>${error && html`<p class="error" role="alert" data-testid="dial-error">${error.text()}</p>`}`;
  const live = call.state !== "ended";
  const talk = call.answeredAt ? (Date.now() - call.answeredAt) / 1000 : 0;
  return html`
    <div class="call" data-testid="call" data-state=${call.state} data-call-id=${call.id}>
      <p class="state" role="status" aria-live="polite" data-testid="call-state">
        <span class=${`dot ${call.state}`}></span>${t(`call.state.${call.state}`)}
      </p>
      <p class="num">${call.number}</p>
      ${call.state === "answered" && html`<p class="timer" data-testid="timer">${t("call.timer", { t: duration(talk) })}</p>`}
      ${call.state === "ended" && call.end_reason && html`
        <p>${t("call.end_reason", { reason: t(`end.${call.end_reason}`) })}${call.talk_seconds ? ` · ${duration(call.talk_seconds)}` : ""}</p>`}
      ${live && html`<button class="danger" onClick=${onHangup} data-testid="hangup">${t("hangup")}</button>`}
    </div>`;
}

function Disposition({ pending, currency, onSaved }) {
  const [outcome, setOutcome] = useState(pending.draft?.outcome || "right_party_contact");
  const [amount, setAmount] = useState(pending.draft?.amount || "");
  const [date, setDate] = useState(pending.draft?.date || "");
  const [callback, setCallback] = useState(pending.draft?.callback || "");
  const [notes, setNotes] = useState(pending.draft?.notes || "");
  // an agreed calling window (the debtor's own hours), recorded on the case with this call as its evidence
  const [win, setWin] = useState(pending.draft?.win || { on: false, days: [0, 1, 2, 3, 4], start: "18:00", end: "20:00" });
  const [winSaved, setWinSaved] = useState(!!pending.draft?.winSaved);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);

  useEffect(() => {
    savePending({ ...pending, draft: { outcome, amount, date, callback, notes, win, winSaved } });
  }, [outcome, amount, date, callback, notes, win, winSaved]);

  async function save(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = { outcome, notes: notes || undefined };
    if (outcome === "promise_to_pay") Object.assign(body, { promise_amount: amount, promise_date: date,
      promise_currency: currency || undefined });
    if (outcome === "callback_requested" && callback) body.callback_at = new Date(callback).toISOString();
    try {
      if (win.on && !winSaved) {
        await api("POST", `/v1/cases/${pending.case_id}/windows`, {
          scope: "case", weekdays: [...win.days].sort(), start: win.start, end: win.end, zone: pending.zone || myZone(),
          agreed_on_call_id: pending.call_id, expires_at: new Date(Date.now() + 29 * 86400000).toISOString() });
        setWinSaved(true);
      }
      await api("POST", `/v1/calls/${pending.call_id}/disposition`, body);
      savePending(null);
      onSaved();
    } catch (err) {
      if (err.code === "disposition-already-recorded") {
        savePending(null);
        onSaved();
        return;
      }
      const fields = (err.details.errors || []).map((x) => x.message).join("; ");
      setError(fields ? `${err.text()} ${fields}` : err.text());
    } finally {
      setBusy(false);
    }
  }

  return html`
    <form class="card disposition" onSubmit=${save} aria-labelledby="disp-title" data-testid="disposition">
      <h2 id="disp-title">${t("disp.title")} <span class="muted small">${pending.number}</span></h2>
      <p class="muted small">${t("disp.hint")}</p>
      <label for="outcome">${t("disp.outcome")}</label>
      <select id="outcome" value=${outcome} onChange=${(e) => setOutcome(e.target.value)}>
        ${OUTCOMES.map((o) => html`<option value=${o}>${t(`outcome.${o}`)}</option>`)}
      </select>
      ${outcome === "promise_to_pay" && html`
        <div class="row">
          <div><label for="promise-amount">${t("disp.promise_amount")} (${currency})</label>
            <input id="promise-amount" inputmode="decimal" required pattern="[0-9]+(\\.[0-9]{1,2})?"
                   value=${amount} onInput=${(e) => setAmount(e.target.value)} /></div>
          <div><label for="promise-date">${t("disp.promise_date")}</label>
            <input id="promise-date" type="date" required value=${date} onInput=${(e) => setDate(e.target.value)} /></div>
        </div>`}
      ${outcome === "callback_requested" && html`
        <label for="callback-at">${t("disp.callback_at")} (${myZone()})</label>
        <input id="callback-at" type="datetime-local" required value=${callback}
               onInput=${(e) => setCallback(e.target.value)} />`}
      <fieldset class="window">
        <legend><label class="inline"><input type="checkbox" checked=${win.on} disabled=${winSaved}
          onChange=${(e) => setWin({ ...win, on: e.target.checked })} data-testid="window-on" />
          ${t("disp.window")} · ${pending.zone || myZone()}</label></legend>
        ${win.on && html`
          <div class="days" role="group" aria-label=${t("disp.window_days")}>
            ${[0, 1, 2, 3, 4, 5, 6].map((d) => html`<label class="inline"><input type="checkbox" disabled=${winSaved}
              checked=${win.days.includes(d)} onChange=${(e) => setWin({ ...win, days: e.target.checked
                ? [...win.days, d] : win.days.filter((x) => x !== d) })} />${t(`weekday.${d}`)}</label>`)}
          </div>
          <div class="row">
            <div><label for="win-start">${t("disp.window_start")}</label>
              <input id="win-start" type="time" required value=${win.start} disabled=${winSaved}
                     onInput=${(e) => setWin({ ...win, start: e.target.value })} /></div>
            <div><label for="win-end">${t("disp.window_end")}</label>
              <input id="win-end" type="time" required value=${win.end} disabled=${winSaved}
                     onInput=${(e) => setWin({ ...win, end: e.target.value })} /></div>
          </div>
          ${winSaved && html`<p class="ok small">${t("disp.window_saved")}</p>`}`}
      </fieldset>
      <label for="notes">${t("disp.notes")}</label>
      <textarea id="notes" rows="2" maxlength="2000" value=${notes} onInput=${(e) => setNotes(e.target.value)}></textarea>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy} data-testid="save-disposition">
        ${busy ? t("disp.saving") : t("disp.save")}</button>
    </form>`;
}

export function AgentScreen({ me }) {
  const [cases, setCases] = useState(null);
  const [next, setNext] = useState(null);
  const [casesError, setCasesError] = useState(null);
  const [checks, setChecks] = useState({});
  const [call, setCall] = useState(null);
  const [dialError, setDialError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState(loadPending());
  const [live, setLive] = useState(false);
  const [saved, setSaved] = useState(false);
  const [presence, setPresence] = useState(null);
  // bumped when a disposition is saved: the case's history is read afresh when opened next
  const [history, setHistory] = useState({});
  const [savedCount, setSavedCount] = useState(0); // callbacks are read again after each saved disposition

  async function loadPresence() {
    try {
      setPresence(await api("GET", `/v1/agents/${encodeURIComponent(me.user_id)}/state`));
    } catch {
      setPresence(null); // presence not offered: the control is hidden
    }
  }
  const callRef = useRef(null);
  callRef.current = call;
  const casesRef = useRef(null);
  casesRef.current = cases;
  const pendingRef = useRef(null);
  pendingRef.current = pending;
  // our own dial is under way: its early events wait for its answer instead of being taken as a call placed for us
  const dialling = useRef(false);
  const adopting = useRef(new Set());
  // events of a call that arrive before POST /v1/calls has answered (the PBX is quick): applied once it has
  const early = useRef(new Map());

  async function checkCase(kase) {
    for (const c of kase.contacts.filter((x) => !x.removed)) {
      try {
        const [d, language] = await api("POST", "/v1/compliance/check",
          { agent: me.user_id, number: c.number, case_id: kase.id }, { withLanguage: true });
        setChecks((prev) => ({ ...prev, [c.number]: { ...d, language } }));
      } catch (err) {
        setChecks((prev) => ({ ...prev, [c.number]: { error: err } }));
      }
    }
  }

  async function loadCases(cursor) {
    try {
      const q = new URLSearchParams({ agent: "me", limit: "20" });
      if (cursor) q.set("cursor", cursor);
      const page = await api("GET", `/v1/cases?${q}`);
      setCases((prev) => [...(cursor && prev ? prev : []), ...page.items]);
      setNext(page.next_cursor || null);
      page.items.forEach(checkCase);
    } catch (err) {
      setCasesError(err.status === 404 ? t("cases.unavailable") : err.text());
      setCases([]);
    }
  }

  useEffect(() => {
    loadCases(null);
    loadPresence();
    return liveEvents(["call.", "agent."], (type, ev) => {
      if (type === "agent.state_changed") {
        if (ev.agent_id === me.user_id || ev.data?.agent === me.user_id) loadPresence();
        return;
      }
      const current = callRef.current;
      if (!current || ev.call_id !== current.id) {
        if (ev.agent_id === me.user_id) {
          early.current.set(ev.call_id, [...(early.current.get(ev.call_id) || []), [type, ev]]);
          const idle = !current || current.state === "ended";
          if (idle && !dialling.current && !pendingRef.current && type !== "call.ended"
              && !adopting.current.has(ev.call_id)) {
            adopting.current.add(ev.call_id);
            adopt(ev.call_id);
          }
        }
        return;
      }
      setCall((c) => advance(c, type, ev));
    }, setLive);
  }, []);

  /** A call placed for this agent by someone else (a progressive campaign, a supervisor): followed like our own,
   * with the disposition form when it is a case's. */
  async function adopt(callId) {
    let c;
    try {
      c = await api("GET", `/v1/calls/${encodeURIComponent(callId)}`);
    } catch {
      return; // not ours to see
    }
    const current = callRef.current;
    if ((current && current.state !== "ended") || dialling.current || pendingRef.current) return;
    const kase = (casesRef.current || []).find((k) => k.id === c.case_id);
    let started = { id: c.id, state: RANK.includes(c.state) ? c.state : "requested", number: c.number,
      case_id: c.case_id, currency: kase?.currency, answeredAt: c.state === "answered" ? Date.now() : undefined };
    for (const [type, ev] of early.current.get(c.id) || []) started = advance(started, type, ev);
    early.current.delete(c.id);
    setSaved(false);
    setCall(started);
    callRef.current = started;
    if (c.case_id) {
      const p = { call_id: c.id, case_id: c.case_id, number: c.number, currency: kase?.currency,
        zone: kase?.timezone || null };
      savePending(p);
      setPending(p);
      pendingRef.current = p;
    }
  }

  async function dial(kase, number) {
    dialling.current = true;
    setBusy(true);
    setDialError(null);
    setSaved(false);
    try {
      const c = await api("POST", "/v1/calls", { agent: me.user_id, number, case_id: kase.id });
      let started = { id: c.id, state: c.state, number, case_id: kase.id, currency: kase.currency };
      for (const [type, ev] of early.current.get(c.id) || []) started = advance(started, type, ev);
      early.current.clear();
      setCall(started);
      callRef.current = started; // events that come before the next render find it
      const zone = kase.timezone || (checks[number]?.zones || [])[0]?.zone || null;
      const p = { call_id: c.id, case_id: kase.id, number, currency: kase.currency, zone };
      savePending(p);
      setPending(p);
      pendingRef.current = p;
    } catch (err) {
      setDialError(err);
      if (err.status === 409) {
        setChecks((prev) => ({ ...prev, [number]: { allowed: false, code: err.code, err,
          next_allowed_at: err.details.next_allowed_at } }));
      }
    } finally {
      dialling.current = false;
      setBusy(false);
    }
  }

  /** Dial a case named by a callback or a campaign's offer (``number``: the offer's, else the first valid). */
  async function dialCase(caseId, number) {
    let kase = (cases || []).find((k) => k.id === caseId);
    try {
      if (!kase) kase = await api("GET", `/v1/cases/${encodeURIComponent(caseId)}`);
    } catch (err) {
      setDialError(err);
      return;
    }
    const chosen = number || (kase.contacts.find((c) => !c.removed && c.status === "valid") || {}).number;
    if (chosen) await dial(kase, chosen);
  }

  async function hangup() {
    try {
      await api("POST", `/v1/calls/${call.id}/hangup`);
    } catch (err) {
      setDialError(err);
    }
  }

  function onSaved() {
    setPending(null);
    setSaved(true);
    setSavedCount((n) => n + 1);
    const kase = (cases || []).find((k) => k.id === call?.case_id);
    if (kase) {
      checkCase(kase);
      setHistory((prev) => ({ ...prev, [kase.id]: (prev[kase.id] || 0) + 1 }));
    }
  }

  const inCall = call && call.state !== "ended";
  return html`
    <div class="agent">
      <section class="cases" aria-labelledby="cases-title">
        <h2 id="cases-title">${t("cases.title")}</h2>
        ${cases === null && html`<p class="muted">${t("cases.loading")}</p>`}
        ${casesError && html`<p class="error">${casesError}</p>`}
        ${cases && cases.length === 0 && !casesError && html`<p class="muted">${t("cases.empty")}</p>`}
        ${(cases || []).map((k) => html`<${CaseRow} key=${k.id} kase=${k} me=${me} checks=${checks}
                                          busy=${busy || inCall || !!pending} onDial=${dial}
                                          historyKey=${history[k.id] || 0} />`)}
        ${next && html`<button onClick=${() => loadCases(next)}>${t("cases.more")}</button>`}
      </section>
      <aside class="side">
        <section class="card" aria-labelledby="call-title">
          <h2 id="call-title">${t("call.title")}</h2>
          <${Presence} me=${me} state=${presence} onChange=${setPresence} />
          <p class=${live ? "live ok" : "live"} data-testid="live">${live ? t("live.connected") : t("live.reconnecting")}</p>
          <${CallPanel} call=${call} onHangup=${hangup} error=${dialError} />
          ${call && dialError && html`<p class="error" role="alert">${dialError.text()}</p>`}
        </section>
        ${pending && html`<${Disposition} key=${pending.call_id} pending=${pending}
                                      currency=${pending.currency} onSaved=${onSaved} />`}
        ${saved && html`<p class="ok" role="status" data-testid="disposition-saved">${t("disp.saved")}</p>`}
        <${Work} me=${me} cases=${Object.fromEntries((cases || []).map((k) => [k.id, k]))}
                 busy=${busy || inCall || !!pending} onDial=${dialCase} refresh=${savedCount} />
      </aside>
    </div>`;
}

const RANK = ["requested", "agent_ringing", "agent_answered", "customer_ringing", "answered", "ended"];

/** The call after one of its events (states only move forward, whatever order the events come in). */
function advance(c, type, ev) {
  const state = type.slice("call.".length);
  if (!RANK.includes(state) || RANK.indexOf(state) <= RANK.indexOf(c.state)) return c;
  return {
    ...c, state,
    answeredAt: state === "answered" ? Date.now() : c.answeredAt,
    end_reason: ev.data?.end_reason ?? c.end_reason,
    talk_seconds: ev.data?.talk_seconds ?? c.talk_seconds,
  };
}

/** A gate answer (a check's decision, or a blocked dial's 409) in the user's language: the server's explanation
 * when it gave it in that language, else the console's own words for its code. */
function localized(d) {
  const worded = d.messages || d.err?.details?.messages; // the gate words its explanation in each language
  if (worded && worded[lang()]) return worded[lang()];
  if (d.err) return d.err.text();
  if (d.message && d.language && d.language.toLowerCase() === lang().toLowerCase()) return d.message;
  const key = `err.${d.code || "blocked"}`;
  const known = t(key);
  return known === key ? d.message : known;
}
