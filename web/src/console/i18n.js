// The one message catalogue of the console: every label, state and API error code in zh-CN (default) and en.
// The chosen language is remembered in localStorage; numbers, money and dates follow it (Intl).

const zh = {
  "app.title": "Callguard 催收坐席台",
  "app.skip": "跳到主要内容",
  "lang.switch": "English",
  "lang.label": "语言",
  "nav.agent": "我的案件",
  "nav.wallboard": "实时看板",
  "signin.title": "登录",
  "signin.username": "用户名",
  "signin.password": "密码",
  "signin.submit": "登录",
  "signin.busy": "正在登录…",
  "signin.token_title": "使用 API 令牌登录（系统集成方）",
  "signin.token": "API 令牌",
  "signin.token_submit": "使用令牌",
  "signout": "退出登录",
  "session.ended": "会话已结束，请重新登录。",
  "who": "{name}（{role}）",
  "role.agent": "坐席",
  "role.supervisor": "组长",
  "role.qa": "质检",
  "role.manager": "主管",
  "role.admin": "管理员",
  "role.integration": "系统集成",
  "cases.title": "我的案件",
  "cases.empty": "没有分配给您的案件。",
  "cases.loading": "正在加载案件…",
  "cases.more": "加载更多",
  "cases.unavailable": "案件列表暂不可用。",
  "case.client": "委托方",
  "case.debtor": "债务人",
  "case.amount": "欠款金额",
  "case.overdue": "逾期天数",
  "case.overdue_days": "{n} 天",
  "case.holds": "暂停",
  "case.no_holds": "无",
  "case.numbers": "号码",
  "case.local_time": "对方当地时间 {time}（{zone}）· 您的时间 {mine}",
  "number.status.valid": "可用",
  "number.status.do_not_call": "勿扰",
  "number.status.invalid": "无效",
  "number.status.wrong_number": "错号",
  "number.kind.mobile": "手机",
  "number.kind.home": "住宅",
  "number.kind.work": "单位",
  "number.kind.third_party": "第三方",
  "gate.allowed": "现在可以拨打",
  "gate.blocked": "现在不可拨打",
  "gate.checking": "正在检查…",
  "gate.next": "下次可拨打时间：{time}",
  "gate.next_local": "对方当地 {time}",
  "dial": "拨打 {number}",
  "dial.busy": "正在发起…",
  "call.title": "当前通话",
  "call.none": "没有进行中的通话。",
  "call.state.requested": "正在发起呼叫",
  "call.state.agent_ringing": "您的话机正在振铃",
  "call.state.agent_answered": "您已接听",
  "call.state.customer_ringing": "客户电话正在振铃",
  "call.state.answered": "已接通",
  "call.state.ended": "通话已结束",
  "call.timer": "通话时长 {t}",
  "call.end_reason": "结束原因：{reason}",
  "end.completed": "正常挂断",
  "end.agent_no_answer": "坐席未接听",
  "end.agent_rejected": "坐席拒接",
  "end.agent_unavailable": "坐席话机不可达",
  "end.customer_no_answer": "客户未接听",
  "end.customer_busy": "客户忙",
  "end.customer_unreachable": "客户不可达",
  "end.cancelled": "已取消",
  "end.failed": "呼叫失败",
  "end.blocked": "被拦截",
  "hangup": "挂断",
  "disp.title": "通话结果登记",
  "disp.hint": "保存之前此表单会一直保留。",
  "disp.outcome": "结果",
  "disp.promise_amount": "承诺还款金额",
  "disp.promise_date": "承诺还款日期",
  "disp.callback_at": "回拨时间",
  "disp.notes": "备注",
  "disp.save": "保存结果",
  "disp.saving": "正在保存…",
  "disp.saved": "已保存。",
  "outcome.right_party_contact": "联系到本人",
  "outcome.promise_to_pay": "承诺还款",
  "outcome.refuses": "拒绝还款",
  "outcome.wrong_number": "错号",
  "outcome.third_party_answered": "第三方接听",
  "outcome.deceased": "已故",
  "outcome.suspected_fraud": "疑似欺诈",
  "outcome.dispute": "有异议",
  "outcome.callback_requested": "要求回拨",
  "outcome.no_answer": "无人接听",
  "outcome.busy": "忙线",
  "outcome.left_message": "已留言",
  "outcome.other": "其他",
  "live.connected": "实时连接正常",
  "live.reconnecting": "实时连接中断，正在重连…",
  "wall.title": "实时看板",
  "wall.in_progress": "进行中的通话",
  "wall.none": "当前没有通话。",
  "wall.agent": "坐席",
  "wall.state": "状态",
  "wall.duration": "时长",
  "wall.number": "号码",
  "wall.today": "今日（{zone}）",
  "wall.attempts": "拨打次数",
  "wall.connects": "接通次数",
  "wall.connect_rate": "接通率",
  "wall.talk": "通话总时长",
  "wall.refresh": "刷新",
  "wall.blocked": "被拦截",
  "rule.outside-calling-hours": "拨打时段",
  "rule.holiday": "节假日",
  "rule.frequency-cap": "次数上限",
  "rule.do-not-call": "勿扰",
  "rule.case-on-hold": "案件暂停",
  "rule.case-closed": "案件已结案",
  "rule.third-party-restricted": "第三方限制",
  "rule.unknown-timezone": "时区未知",
  "rule.manual-dial-not-allowed": "手动拨号",
  "rule.blocked": "其他规则",
  "wall.health": "拦截与异常（今日）",
  "wall.blocked_by_rule": "被拦截的拨打（按规则）",
  "wall.none_blocked": "今日没有被拦截的拨打。",
  "wall.rule": "规则",
  "wall.count": "次数",
  "wall.rec_missing": "缺失的录音",
  "wall.rec_failed": "处理失败的录音",
  "wall.dead_letters": "Webhook 死信",
  "error.generic": "出错了（{code}）。",
  "error.network": "无法连接服务。",
  "err.outside-calling-hours": "现在不在允许的拨打时段内。",
  "err.holiday": "节假日不允许拨打。",
  "err.frequency-cap": "已达到拨打次数上限。",
  "err.do-not-call": "该号码在勿扰名单上或被标记为不可拨打。",
  "err.case-on-hold": "案件处于暂停状态，不能拨打。",
  "err.case-closed": "案件已结案，不能拨打。",
  "err.third-party-restricted": "不允许拨打该第三方号码。",
  "err.unknown-timezone": "无法确定对方所在时区。",
  "err.manual-dial-not-allowed": "该号码不属于任何案件，坐席不能手动拨打。",
  "err.blocked": "合规规则不允许此次拨打。",
  "err.sign-in-failed": "用户名或密码错误。",
  "err.too-many-failed-sign-ins": "失败次数过多，请 {s} 秒后再试。",
  "err.user-deactivated": "该用户已停用。",
  "err.token-revoked": "会话已被撤销，请重新登录。",
  "err.token-expired": "会话已过期，请重新登录。",
  "err.session-expired": "长时间未操作，会话已结束，请重新登录。",
  "err.session-ended": "会话已结束，请重新登录。",
  "err.unauthorized": "请先登录。",
  "err.csrf-token-invalid": "请求缺少安全令牌，请刷新页面。",
  "err.forbidden": "您没有权限执行此操作。",
  "err.validation-failed": "请检查填写的内容。",
  "err.disposition-already-recorded": "该通话的结果已经登记过。",
  "err.call-ended": "通话已结束。",
  "err.no-such-call": "找不到该通话。",
  "err.not-your-call": "这不是您的通话。",
  "err.pbx-unavailable": "电话系统暂不可用。",
  "err.upstream-unavailable": "依赖的服务暂不可用。",
  "err.internal-error": "服务内部错误。",
};

const en = {
  "app.title": "Callguard collection console",
  "app.skip": "Skip to main content",
  "lang.switch": "中文",
  "lang.label": "Language",
  "nav.agent": "My cases",
  "nav.wallboard": "Wallboard",
  "signin.title": "Sign in",
  "signin.username": "Username",
  "signin.password": "Password",
  "signin.submit": "Sign in",
  "signin.busy": "Signing in…",
  "signin.token_title": "Sign in with an API token (integrators)",
  "signin.token": "API token",
  "signin.token_submit": "Use the token",
  "signout": "Sign out",
  "session.ended": "Your session ended; please sign in again.",
  "who": "{name} ({role})",
  "role.agent": "agent",
  "role.supervisor": "supervisor",
  "role.qa": "QA",
  "role.manager": "manager",
  "role.admin": "admin",
  "role.integration": "integration",
  "cases.title": "My cases",
  "cases.empty": "No cases are assigned to you.",
  "cases.loading": "Loading cases…",
  "cases.more": "Load more",
  "cases.unavailable": "The case list is not available.",
  "case.client": "Client",
  "case.debtor": "Debtor",
  "case.amount": "Amount",
  "case.overdue": "Days overdue",
  "case.overdue_days": "{n} days",
  "case.holds": "Holds",
  "case.no_holds": "none",
  "case.numbers": "Numbers",
  "case.local_time": "Their local time {time} ({zone}) · yours {mine}",
  "number.status.valid": "valid",
  "number.status.do_not_call": "do not call",
  "number.status.invalid": "invalid",
  "number.status.wrong_number": "wrong number",
  "number.kind.mobile": "mobile",
  "number.kind.home": "home",
  "number.kind.work": "work",
  "number.kind.third_party": "third party",
  "gate.allowed": "May be called now",
  "gate.blocked": "May not be called now",
  "gate.checking": "Checking…",
  "gate.next": "Next allowed: {time}",
  "gate.next_local": "their local {time}",
  "dial": "Call {number}",
  "dial.busy": "Dialling…",
  "call.title": "Current call",
  "call.none": "No call in progress.",
  "call.state.requested": "Placing the call",
  "call.state.agent_ringing": "Your phone is ringing",
  "call.state.agent_answered": "You answered",
  "call.state.customer_ringing": "The customer's phone is ringing",
  "call.state.answered": "Connected",
  "call.state.ended": "Call ended",
  "call.timer": "Talk time {t}",
  "call.end_reason": "Ended: {reason}",
  "end.completed": "hung up",
  "end.agent_no_answer": "agent did not answer",
  "end.agent_rejected": "agent rejected",
  "end.agent_unavailable": "agent phone unreachable",
  "end.customer_no_answer": "customer did not answer",
  "end.customer_busy": "customer busy",
  "end.customer_unreachable": "customer unreachable",
  "end.cancelled": "cancelled",
  "end.failed": "failed",
  "end.blocked": "blocked",
  "hangup": "Hang up",
  "disp.title": "Call outcome",
  "disp.hint": "This form stays open until it is saved.",
  "disp.outcome": "Outcome",
  "disp.promise_amount": "Promised amount",
  "disp.promise_date": "Promised date",
  "disp.callback_at": "Call back at",
  "disp.notes": "Notes",
  "disp.save": "Save outcome",
  "disp.saving": "Saving…",
  "disp.saved": "Saved.",
  "outcome.right_party_contact": "Right party contact",
  "outcome.promise_to_pay": "Promise to pay",
  "outcome.refuses": "Refuses to pay",
  "outcome.wrong_number": "Wrong number",
  "outcome.third_party_answered": "Third party answered",
  "outcome.deceased": "Deceased",
  "outcome.suspected_fraud": "Suspected fraud",
  "outcome.dispute": "Dispute",
  "outcome.callback_requested": "Callback requested",
  "outcome.no_answer": "No answer",
  "outcome.busy": "Busy",
  "outcome.left_message": "Left a message",
  "outcome.other": "Other",
  "live.connected": "Live updates connected",
  "live.reconnecting": "Live updates interrupted; reconnecting…",
  "wall.title": "Wallboard",
  "wall.in_progress": "Calls in progress",
  "wall.none": "No calls right now.",
  "wall.agent": "Agent",
  "wall.state": "State",
  "wall.duration": "Duration",
  "wall.number": "Number",
  "wall.today": "Today ({zone})",
  "wall.attempts": "Attempts",
  "wall.connects": "Connects",
  "wall.connect_rate": "Connect rate",
  "wall.talk": "Talk time",
  "wall.refresh": "Refresh",
  "wall.blocked": "Blocked",
  "rule.outside-calling-hours": "Calling hours",
  "rule.holiday": "Holiday",
  "rule.frequency-cap": "Frequency cap",
  "rule.do-not-call": "Do not call",
  "rule.case-on-hold": "Case on hold",
  "rule.case-closed": "Case closed",
  "rule.third-party-restricted": "Third party",
  "rule.unknown-timezone": "Unknown time zone",
  "rule.manual-dial-not-allowed": "Manual dial",
  "rule.blocked": "Other rule",
  "wall.health": "Blocks and problems (today)",
  "wall.blocked_by_rule": "Blocked dials by rule",
  "wall.none_blocked": "No dial was blocked today.",
  "wall.rule": "Rule",
  "wall.count": "Count",
  "wall.rec_missing": "Recordings missing",
  "wall.rec_failed": "Recordings failed",
  "wall.dead_letters": "Webhook dead letters",
  "error.generic": "Something went wrong ({code}).",
  "error.network": "The service cannot be reached.",
  "err.outside-calling-hours": "It is outside the allowed calling hours.",
  "err.holiday": "No calls on holidays.",
  "err.frequency-cap": "The calling limit has been reached.",
  "err.do-not-call": "The number is on the do-not-call list or marked not to be called.",
  "err.case-on-hold": "The case is on hold and may not be called.",
  "err.case-closed": "The case is closed and may not be called.",
  "err.third-party-restricted": "This third-party number may not be called.",
  "err.unknown-timezone": "The callee's time zone is unknown.",
  "err.manual-dial-not-allowed": "The number belongs to no case; an agent may not dial it.",
  "err.blocked": "A compliance rule does not allow this call.",
  "err.sign-in-failed": "Wrong username or password.",
  "err.too-many-failed-sign-ins": "Too many failed attempts; try again in {s} s.",
  "err.user-deactivated": "This user is deactivated.",
  "err.token-revoked": "Your session was revoked; please sign in again.",
  "err.token-expired": "Your session expired; please sign in again.",
  "err.session-expired": "Your session ended after a time without use; please sign in again.",
  "err.session-ended": "Your session ended; please sign in again.",
  "err.unauthorized": "Please sign in.",
  "err.csrf-token-invalid": "The request lacks its security token; reload the page.",
  "err.forbidden": "You may not do this.",
  "err.validation-failed": "Please check the form.",
  "err.disposition-already-recorded": "This call's outcome is already recorded.",
  "err.call-ended": "The call has ended.",
  "err.no-such-call": "No such call.",
  "err.not-your-call": "This is not your call.",
  "err.pbx-unavailable": "The phone system is unavailable.",
  "err.upstream-unavailable": "A service we depend on is unavailable.",
  "err.internal-error": "Internal error.",
};

export const CATALOGUES = { "zh-CN": zh, en };
export const LANGS = ["zh-CN", "en"];
const KEY = "callguard.lang";

function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null;
  }
}

let current = stored() || "zh-CN";

export function lang() {
  return current;
}

export function setLang(value) {
  current = LANGS.includes(value) ? value : "zh-CN";
  try {
    localStorage.setItem(KEY, current);
  } catch {
    /* private mode: not remembered */
  }
  document.documentElement.lang = current;
  document.title = t("app.title");
}

export function has(key) {
  return key in CATALOGUES[current];
}

/** The message ``key`` in the current language, with ``{name}`` placeholders filled in. */
export function t(key, params = {}) {
  const text = CATALOGUES[current][key] ?? CATALOGUES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function money(amount, currency) {
  const n = Number(amount);
  try {
    return new Intl.NumberFormat(current, { style: "currency", currency }).format(n);
  } catch {
    return `${amount} ${currency}`;
  }
}

export function number(n, opts = {}) {
  return new Intl.NumberFormat(current, opts).format(n);
}

/** A date and time in ``zone`` (the user's own when omitted), with the zone named. */
export function dateTime(iso, zone) {
  const d = iso instanceof Date ? iso : new Date(iso);
  // dateStyle/timeStyle cannot be combined with timeZoneName: the fields one by one
  return new Intl.DateTimeFormat(current, {
    year: "numeric", month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit",
    hour12: false, timeZone: zone || undefined, timeZoneName: "short",
  }).format(d);
}

export function timeOnly(d, zone) {
  return new Intl.DateTimeFormat(current, { timeStyle: "short", timeZone: zone || undefined }).format(d);
}

export function myZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return `${mm}:${ss}`;
}
