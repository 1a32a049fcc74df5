// The Callguard console: sign-in, the agent's cases with the gate's answer and one-click dial, live call
// state from the event stream, the disposition form, and a wallboard for supervisors and managers.
import { h, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, onSessionLost, setCsrf, setToken } from "./api.js";
import { lang, setLang, t } from "./i18n.js";
import { AgentScreen } from "./agent.js";
import { Qa } from "./qa.js";
import { Reports } from "./reports.js";
import { Wallboard } from "./wallboard.js";

const html = htm.bind(h);
const WALL_ROLES = ["supervisor", "manager", "admin"];
const QA_ROLES = ["qa", "supervisor", "manager", "admin"];
// the admin tab: an admin's every section; a supervisor's or manager's the few the API lets them read (admin.js)
const ADMIN_ROLES = ["supervisor", "manager", "admin"];

function SignIn({ onSignedIn, notice }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [token, setTokenText] = useState("");

  async function useToken(e) {
    e.preventDefault();
    setError(null);
    setToken(token.trim());
    try {
      onSignedIn(await api("GET", "/v1/session"));
    } catch (err) {
      setToken(null);
      setError(err.text());
    } finally {
      setTokenText("");
    }
  }

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api("POST", "/v1/session", { username, password }));
    } catch (err) {
      setError(err.text());
      setPassword("");
    } finally {
      setBusy(false);
    }
  }

  return html`
    <main id="main" class="signin">
      <form class="card" onSubmit=${submit} aria-labelledby="signin-title">
        <h1 id="signin-title">${t("signin.title")}</h1>
        ${notice && html`<p class="notice" role="status">${notice}</p>`}
        <label for="username">${t("signin.username")}</label>
        <input id="username" name="username" autocomplete="username" required value=${username}
               onInput=${(e) => setUsername(e.target.value)} />
        <label for="password">${t("signin.password")}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required
               value=${password} onInput=${(e) => setPassword(e.target.value)} />
        ${error && html`<p class="error" role="alert" data-testid="signin-error">${error}</p>`}
        <button type="submit" class="primary" disabled=${busy}>
          ${busy ? t("signin.busy") : t("signin.submit")}
        </button>
        <details class="token">
          <summary>${t("signin.token_title")}</summary>
          <label for="token">${t("signin.token")}</label>
          <input id="token" type="password" autocomplete="off" value=${token}
                 onInput=${(ev) => setTokenText(ev.target.value)} />
          <button type="button" onClick=${useToken} disabled=${!token.trim()}>${t("signin.token_submit")}</button>
        </details>
      </form>
    </main>`;
}

/** The admin's screens: a chunk of their own, fetched when first opened (agents never load it). */
function AdminView({ me }) {
  const [mod, setMod] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    import("./admin.js").then(setMod, () => setFailed(true));
  }, []);
  if (failed) return html`<p class="error" role="alert">${t("error.network")}</p>`;
  return mod ? html`<${mod.Admin} me=${me} />` : html`<p class="muted">${t("adm.loading")}</p>`;
}

function Header({ me, view, setView, onSignOut, onLang }) {
  const canWall = WALL_ROLES.includes(me.role);
  const canQa = QA_ROLES.includes(me.role);
  const other = lang() === "zh-CN" ? "en" : "zh-CN";
  return html`
    <header class="top">
      <span class="brand">Callguard</span>
      <nav aria-label=${t("app.title")}>
        ${me.role === "agent" && html`
          <button class=${view === "agent" ? "tab active" : "tab"} aria-current=${view === "agent" ? "page" : undefined}
                  onClick=${() => setView("agent")}>${t("nav.agent")}</button>`}
        ${canWall && html`
          <button class=${view === "wall" ? "tab active" : "tab"} aria-current=${view === "wall" ? "page" : undefined}
                  onClick=${() => setView("wall")}>${t("nav.wallboard")}</button>
          <button class=${view === "reports" ? "tab active" : "tab"}
                  aria-current=${view === "reports" ? "page" : undefined} data-testid="nav-reports"
                  onClick=${() => setView("reports")}>${t("nav.reports")}</button>`}
        ${canQa && html`
          <button class=${view === "qa" ? "tab active" : "tab"} aria-current=${view === "qa" ? "page" : undefined}
                  data-testid="nav-qa" onClick=${() => setView("qa")}>${t("nav.qa")}</button>`}
        ${ADMIN_ROLES.includes(me.role) && html`
          <button class=${view === "admin" ? "tab active" : "tab"} aria-current=${view === "admin" ? "page" : undefined}
                  data-testid="nav-admin" onClick=${() => setView("admin")}>${t("nav.admin")}</button>`}
      </nav>
      <span class="spacer"></span>
      <span class="who" data-testid="who">${t("who", { name: me.display_name, role: t(`role.${me.role}`) })}</span>
      <button class="link" lang=${other} onClick=${() => onLang(other)} data-testid="lang">${t("lang.switch")}</button>
      <button class="link" onClick=${onSignOut}>${t("signout")}</button>
    </header>`;
}

function App() {
  const [me, setMe] = useState(undefined); // undefined: loading; null: signed out
  const [notice, setNotice] = useState(null);
  const [view, setView] = useState("agent");
  const [, setLangTick] = useState(0);

  useEffect(() => {
    onSessionLost((err) => {
      setCsrf(null);
      setNotice(err.text ? err.text() : t("session.ended"));
      setMe(null);
    });
    api("GET", "/v1/session").then(signedIn).catch(() => setMe(null));
  }, []);

  function signedIn(session) {
    setCsrf(session.csrf_token);
    setNotice(null);
    setView(session.role === "agent" ? "agent" : session.role === "qa" ? "qa" : "wall");
    setMe(session);
  }

  async function signOut() {
    if (me.kind === "session") {
      try {
        await api("DELETE", "/v1/session");
      } catch {
        /* already ended */
      }
    }
    setToken(null);
    setCsrf(null);
    setMe(null);
  }

  function switchLang(value) {
    setLang(value);
    setLangTick((n) => n + 1);
  }

  if (me === undefined) return html`<main id="main" class="loading" aria-busy="true"></main>`;
  if (me === null) {
    return html`
      <div class="lang-only"><button class="link" onClick=${() => switchLang(lang() === "zh-CN" ? "en" : "zh-CN")}
        data-testid="lang">${t("lang.switch")}</button></div>
      <${SignIn} onSignedIn=${signedIn} notice=${notice} />`;
  }
  return html`
    <a class="skip" href="#main">${t("app.skip")}</a>
    <${Header} me=${me} view=${view} setView=${setView} onSignOut=${signOut} onLang=${switchLang} />
    <main id="main" tabindex="-1">
      ${view === "agent" && me.role === "agent" ? html`<${AgentScreen} me=${me} lang=${lang()} />`
        : view === "reports" && WALL_ROLES.includes(me.role) ? html`<${Reports} lang=${lang()} />`
        : view === "qa" && QA_ROLES.includes(me.role) ? html`<${Qa} lang=${lang()} />`
        : view === "admin" && ADMIN_ROLES.includes(me.role) ? html`<${AdminView} me=${me} lang=${lang()} />`
          : html`<${Wallboard} me=${me} lang=${lang()} />`}
    </main>`;
}

setLang(lang());
render(html`<${App} />`, document.getElementById("app"));
