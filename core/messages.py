"""The message catalogue: every error code's human message in zh-CN and en, in one place.

Each error ``code`` the service can answer maps to one or more ``Text``s (a zh-CN and an en sentence);
``{placeholders}`` are filled from the error's ``details`` (``core.i18n.render``), and the first text whose
placeholders all have a value in ``details`` is used (so the last text of each code names no placeholder).
A value is shown through ``WORDS`` when there is an entry for it (``upstream: database`` -> 数据库), lists
are joined. The gate's explanations are rule by rule (``RULES``, filled from each block's ``params`` by
``compliance.explain``).

English: an error raised with its own sentence keeps it as its English message (the raise site names the
specific thing); the catalogue's English is the code's standard sentence, used when a raise site gives none.
``tests/unit/core/test_messages.py`` scans every product module and fails on a code without both languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "zh-CN"


@dataclass(frozen=True, slots=True)
class Text:
    """One sentence in each language."""

    zh: str
    en: str

    def get(self, language: Language) -> str:
        """The sentence in ``language``."""
        return self.zh if language == "zh-CN" else self.en


# code -> texts, most specific first; the last one names no placeholder
CATALOGUE: dict[str, tuple[Text, ...]] = {
    # the edge and the shared kernel
    "internal-error": (Text("服务器内部错误，请稍后重试；如仍失败请联系管理员。",
                            "Internal error; try again later, and tell an administrator if it persists."),),
    "bad-request": (Text("请求无效。", "The request is invalid."),),
    "bad-json": (Text("请求体不是有效的 JSON。", "The request body is not valid JSON."),),
    "validation-failed": (
        Text("请求中以下字段无效：{fields}。", "The request has invalid fields: {fields}."),
        Text("字段 {field} 的值无效。", "The field {field} is invalid."),
        Text("请求内容无效。", "The request is invalid."),
    ),
    "body-too-large": (
        Text("请求体过大，最多 {max_bytes} 字节。", "The request body is too large (at most {max_bytes} bytes)."),
        Text("请求体过大。", "The request body is too large."),
    ),
    "not-s3-storage": (
        Text("录音备份只复制 S3 存储（storage.backend = s3）；本地存储请用文件系统工具备份。",
             "The recordings backup copies an S3 store (storage.backend = s3); back up local storage with "
             "the file system's own tools."),
    ),
    "rate-limited": (
        Text("请求过于频繁，请在 {retry_after_s} 秒后重试。",
             "Too many requests; retry in {retry_after_s} s."),
        Text("请求过于频繁，请稍后重试。", "Too many requests; retry later."),
    ),
    "not-found": (Text("未找到请求的内容。", "Not found."),),
    "no-such-route": (Text("没有这个接口地址。", "No such route."),),
    "method-not-allowed": (
        Text("此地址不支持该请求方法，可用的方法：{allowed}。", "This method is not allowed here; use {allowed}."),
        Text("此地址不支持该请求方法。", "This method is not allowed here."),
    ),
    "docs-not-built": (Text("接口参考文档尚未生成（请运行 make web）。",
                            "The API reference is not built: run 'make web'."),),
    "conflict": (Text("请求与当前状态冲突。", "The request conflicts with the current state."),),
    "metrics-forbidden": (Text("只有监控抓取令牌（metrics.token）或全局管理员的令牌可以读取运行指标。",
                               "Only the scrape token (metrics.token) or a global admin's token may read the "
                               "metrics."),),
    "forbidden": (
        Text("您的角色（{role}）无权执行此操作，需要：{required_roles}。",
             "Role '{role}' may not do this; it needs {required_roles}."),
        Text("您无权执行此操作。", "You may not do this."),
    ),
    "upstream-unavailable": (
        Text("{upstream}暂时不可用，请稍后重试。", "The {upstream} is unavailable; try again later."),
        Text("依赖的服务暂时不可用，请稍后重试。", "An upstream service is unavailable; try again later."),
    ),
    "bad-cursor": (Text("翻页游标无效，请使用上一页返回的 next_cursor。",
                        "The cursor is not valid: pass a previous page's next_cursor."),),
    "invalid-number": (Text("电话号码无效，无法拨打。", "The phone number is not valid."),),
    # authentication and users
    "unauthorized": (Text("需要登录：请在 Authorization 请求头中提供 Bearer 令牌。",
                          "A bearer token is required: 'Authorization: Bearer <token>'."),),
    "unknown-token": (Text("令牌无效。", "The bearer token is unknown."),),
    "token-expired": (Text("令牌已过期，请申请新的令牌。", "The bearer token has expired."),),
    "token-revoked": (Text("令牌已被撤销。", "The bearer token was revoked."),),
    "user-deactivated": (
        Text("用户 {user_id} 已被停用。", "User {user_id} is deactivated."),
        Text("该用户已被停用。", "The user is deactivated."),
    ),
    "query-token-refused": (Text("不能在网址中传递令牌：请使用 Authorization 请求头；事件流请先申请一次性票据。",
                                 "A token is not accepted in the query string; use the Authorization header, "
                                 "or a ticket from POST /v1/events/tickets."),),
    "invalid-ticket": (Text("票据无效、已被使用或已过期。", "The ticket is unknown, used or expired."),),
    "too-many-failed-sign-ins": (
        Text("该地址登录失败次数过多，请在 {retry_after_s} 秒后重试。",
             "Too many failed sign-ins from this address; retry in {retry_after_s} s."),
        Text("该地址登录失败次数过多，请稍后重试。", "Too many failed sign-ins from this address; retry later."),
    ),
    "no-such-user": (
        Text("用户 {user_id} 不存在。", "No user {user_id}."),
        Text("用户不存在。", "No such user."),
    ),
    "no-such-token": (
        Text("令牌 {token_id} 不存在。", "No token {token_id}."),
        Text("令牌不存在。", "No such token."),
    ),
    "user-exists": (
        Text("用户 {user_id} 已存在。", "User {user_id} exists."),
        Text("该用户已存在。", "The user exists."),
    ),
    "invalid-clients": (
        Text("用户服务的委托方（银行）设置无效：{clients}。", "The user's clients are not valid: {clients}."),
        Text("用户服务的委托方（银行）设置无效。", "The user's clients are not valid."),
    ),
    "client-out-of-scope": (
        Text("您只能分配自己服务的委托方：{allowed}。", "You may give users only your own clients: {allowed}."),
        Text("您只能分配自己服务的委托方。", "You may give users only your own clients."),
    ),
    "sip-user-taken": (
        Text("话机账号 {sip_user} 已属于另一个用户。", "sip_user {sip_user} belongs to another user."),
        Text("该话机账号已属于另一个用户。", "The sip_user belongs to another user."),
    ),
    "token-lifetime-too-long": (
        Text("个人令牌的有效期最长 {max} 天。", "A person's token lives at most {max} days."),
        Text("令牌有效期过长。", "The token's lifetime is too long."),
    ),
    # calls
    "no-such-call": (
        Text("通话 {call_id} 不存在。", "No call {call_id}."),
        Text("通话不存在。", "No such call."),
    ),
    "no-such-agent": (
        Text("坐席 {agent} 不存在、已停用或没有话机。", "No active agent {agent} with a phone."),
        Text("坐席不存在。", "No such agent."),
    ),
    "not-your-agent": (Text("坐席只能以自己的身份拨号。", "An agent may dial only as themselves."),),
    "call-ended": (Text("该通话已经结束。", "The call has already ended."),),
    "no-such-transfer-target": (
        Text("转接对象 {target} 不存在、已停用、没有话机，或不在该通话的客户与团队范围内。",
             "No active agent or supervisor {target} with a phone within the call's client and team."),
        Text("转接对象不存在。", "No such transfer target."),
    ),
    "call-not-transferable": (
        Text("通话 {call_id} 现在不能转接（{reason}）。", "Call {call_id} cannot be transferred now ({reason})."),
        Text("该通话现在不能转接。", "The call cannot be transferred now."),
    ),
    "service-overloaded": (
        Text("服务繁忙：正在处理电话交换机的 {backlog} 个事件，请 {retry_after_s} 秒后重试。",
             "The service is busy with {backlog} PBX events; retry in {retry_after_s} s."),
        Text("服务繁忙，请稍后重试。", "The service is busy; try again shortly."),
    ),
    "pbx-unavailable": (
        Text("电话交换机 {pbx} 暂时无法连接，请稍后重试。", "The PBX {pbx} is unavailable; try again later."),
        Text("电话交换机暂时无法连接，请稍后重试。", "The PBX is unavailable; try again later."),
    ),
    "invalid-presented-number": (
        Text("外显号码无效：{number}（须为 E.164 格式，如 +8613800000001）。",
             "The presented number {number} is not valid (E.164: '+' and 7 to 15 digits)."),
        Text("外显号码无效（须为 E.164 格式，不能重复，数量有上限）。",
             "The presented numbers are not valid (E.164, no duplicates, a limited count)."),
    ),
    "no-presented-numbers": (Text("该委托方没有设置外显号码，呼叫将显示交换机的默认号码。",
                                  "The client has no presented numbers: calls show the PBX default."),),
    # supervisor monitoring (issue #14)
    "no-such-monitor-session": (
        Text("该通话上没有您的监听会话 {session_id}。", "No monitoring session {session_id} of yours on this call."),
        Text("监听会话不存在。", "No such monitoring session."),
    ),
    "call-not-live": (
        Text("通话 {call_id} 的坐席尚未接听，暂不能监听。", "The agent has not answered call {call_id} yet."),
        Text("坐席尚未接听，暂不能监听。", "The agent has not answered the call yet."),
    ),
    "monitor-no-phone": (Text("您没有话机账号，无法接入监听。", "You have no phone (sip_user) to ring."),),
    "monitor-already-open": (
        Text("您已在监听该通话（会话 {session_id}）。", "You already monitor this call (session {session_id})."),
        Text("您已在监听该通话。", "You already monitor this call."),
    ),
    "monitor-not-active": (
        Text("监听会话尚未接通或已结束（{state}），不能切换模式。",
             "The monitoring session is not active ({state}): its mode cannot change."),
        Text("监听会话尚未接通或已结束，不能切换模式。", "The monitoring session is not active."),
    ),
    "invalid-monitor-target": (Text("监听参数格式无效，未发送给交换机。",
                                     "A monitoring value is not of its form; nothing was sent to the PBX."),),
    "presented-number-not-owned": (
        Text("号码 {number} 不是该委托方的外显号码。", "{number} is not one of the client's presented numbers."),
        Text("该号码不是委托方的外显号码。", "The number is not one of the client's presented numbers."),
    ),
    "manual-dial-not-allowed": (Text("该号码不属于任何案件：只有主管或管理员可以手动拨打。",
                                     "The number belongs to no case: only a supervisor or admin may dial it."),),
    # the compliance gate: a blocked dial (the answer carries the full explanation, rule by rule)
    "blocked": (Text("合规检查拦截了这次呼叫。", "The compliance gate blocked the call."),),
    "outside-calling-hours": (Text("超出允许的呼叫时间。", "Outside the allowed calling hours."),),
    "holiday": (Text("节假日不得催收呼叫。", "No calls on holidays."),),
    "frequency-cap": (Text("已达到呼叫次数或间隔的限制。", "A call frequency limit is reached."),),
    "case-on-hold": (Text("该案件处于暂停催收状态，不得呼叫。", "The case is on hold: no calls."),),
    "do-not-call": (Text("该号码禁止呼叫（勿扰）。", "The number is do-not-call."),),
    "third-party-restricted": (Text("第三方号码受限，不得呼叫。", "Calling this third-party number is restricted."),),
    "unknown-timezone": (Text("无法确定被叫方所在时区，不能判断当地时间。",
                              "The callee's time zone is unknown."),),
    "case-closed": (
        Text("案件 {case_id} 已结案。", "Case {case_id} is closed."),
        Text("该案件已结案。", "The case is closed."),
    ),
    "case-paid": (
        Text("案件 {case_id} 已结清，不得再呼叫。", "Case {case_id} is paid; it may not be dialled."),
        Text("该案件已结清，不得再呼叫。", "The case is paid; it may not be dialled."),
    ),
    "case-returned": (Text("该案件已退回委托方，不得再呼叫。", "The case was returned to the client."),),
    "case-recalled": (Text("该案件已被委托方撤回，不得再呼叫。", "The case was recalled by the client."),),
    # compliance administration
    "no-such-decision": (Text("合规决定记录不存在。", "No such compliance decision."),),
    "no-such-policy": (Text("该委托方没有单独的合规策略。", "The client has no stored policy."),),
    "no-such-entry": (Text("禁止呼叫名单中没有这一项。", "No such do-not-call entry."),),
    "retention-below-floor": (
        Text("录音保存天数不能少于 {floor_days} 天。", "retention_days may not be below {floor_days} days."),
        Text("录音保存天数低于下限。", "The retention is below the floor."),
    ),
    # cases
    "no-such-case": (
        Text("案件 {case_id} 不存在。", "No case {case_id}."),
        Text("委托方 {client} 没有案件 {external_id}。", "No case {external_id} for client {client}."),
        Text("案件不存在。", "No such case."),
    ),
    "no-such-contact": (
        Text("号码 {number} 不属于该案件。", "{number} is not a number of the case."),
        Text("该号码不属于该案件。", "The number is not a number of the case."),
    ),
    "no-such-window": (
        Text("没有有效的约定时段 {window_id}。", "No active window {window_id}."),
        Text("约定时段不存在。", "No such window."),
    ),
    "bad-hold-reason": (
        Text("未知的暂停原因，可用的原因：{allowed}。", "Unknown hold reason; use one of {allowed}."),
        Text("未知的暂停原因。", "Unknown hold reason."),
    ),
    "outside-team": (
        Text("您是团队 {own_team} 的主管，只能在本团队内分配案件。",
             "A supervisor of team {own_team} assigns only within it."),
        Text("主管只能在本团队内分配案件。", "A supervisor assigns only within their team."),
    ),
    "disposition-already-recorded": (Text("该通话已经记录过处理结果。", "The call already has a disposition."),),
    "not-your-call": (Text("只有该通话的坐席或主管可以记录处理结果。",
                           "Only the call's agent or a supervisor records dispositions."),),
    "window-evidence-required": (Text("约定时段需要证据：请提供债务人同意该时段的那通"
                                      "已接通并已录音的通话（agreed_on_call_id）。",
                                      "An agreed window needs evidence: agreed_on_call_id, the answered and "
                                      "recorded call on which the debtor agreed to it."),),
    "window-evidence-rejected": (
        Text("通话 {call_id} 不能作为案件 {case_id} 约定时段的证据。",
             "Call {call_id} is not evidence of a window on case {case_id}."),
        Text("该通话不能作为约定时段的证据。", "The call is not evidence of the window."),
    ),
    "window-expiry-too-far": (
        Text("约定时段的有效期太长，最晚到 {latest}。", "The agreed window expires too late: at most {latest}."),
        Text("约定时段的有效期太长。", "The agreed window expires too late."),
    ),
    "case-import-bad-file": (
        Text("导入文件缺少必需的列：{missing}。", "Required columns are missing: {missing}."),
        Text("导入文件中有重复的列：{columns}。", "Columns appear twice: {columns}."),
        Text("导入文件无法读取：请检查格式（CSV 或 XLSX）、编码和表头。",
             "The file cannot be imported: check its format (CSV or XLSX), encoding and header."),
    ),
    "import-too-large": (
        Text("导入文件行数过多，最多 {max_rows} 行。", "Too many rows (at most {max_rows})."),
        Text("导入文件过大，最多 {max_bytes} 字节。", "The file is too large (at most {max_bytes} bytes)."),
        Text("导入文件过大。", "The file is too large."),
    ),
    "case-import-unsafe-xml": (Text("XLSX 文件含有不安全的 XML 内容，已拒绝导入。",
                                    "The XLSX file holds unsafe XML; it was refused."),),
    "case-import-xlsx-unsafe-parser": (Text("服务器未启用安全的 XLSX 解析，暂不能导入 XLSX，请改用 CSV。",
                                            "XLSX import is disabled on this server; use CSV."),),
    # webhooks
    "no-such-subscription": (
        Text("订阅 {subscription_id} 不存在。", "No subscription {subscription_id}."),
        Text("订阅不存在。", "No such subscription."),
    ),
    "no-such-delivery": (
        Text("推送记录 {delivery_id} 不存在。", "No delivery {delivery_id}."),
        Text("推送记录不存在。", "No such delivery."),
    ),
    "no-such-client": (
        Text("委托方 {client} 不存在。", "No client {client}."),
        Text("委托方不存在。", "No such client."),
    ),
    "client-required": (Text("请指明接收事件的委托方（client）。",
                             "Name the client whose events the subscription receives."),),
    "bad-event-pattern": (
        Text("事件类型格式无效：{pattern}。", "Bad event type pattern {pattern}."),
        Text("至少需要一个有效的事件类型。", "At least one valid event type pattern is needed."),
    ),
    "hook-target-refused": (Text("不允许使用这个推送地址（需为 http/https，不能指向内部网络地址）。",
                                 "The webhook URL is not allowed (http or https, no internal address)."),),
    # recordings and storage
    "no-such-recording": (
        Text("录音 {recording_ids} 不存在。", "No recording {recording_ids}."),
        Text("录音不存在。", "No such recording."),
    ),
    "recording-access-denied": (Text("您无权访问这些录音。", "You may not access these recordings."),),
    "recording-id-required": (Text("请指明要查看哪段录音的访问记录（recording_id）。",
                                   "Name the recording whose access log you read (recording_id)."),),
    "recording-not-stored": (
        Text("录音 {recording_id} 还没有已保存的音频。", "Recording {recording_id} has no stored audio."),
        Text("该录音还没有已保存的音频。", "The recording has no stored audio."),
    ),
    "recording-not-failed": (Text("只有处理失败的录音才能重试。", "Only a failed recording can be retried."),),
    "invalid-recording-transition": (Text("录音当前的状态不允许这个操作。",
                                          "The recording's state does not allow this."),),
    "recording-pause-not-allowed": (Text("现在不能暂停或恢复这段录音。",
                                         "The recording cannot be paused or resumed now."),),
    "retention-active": (Text("录音仍在保存期内或处于法律保全，不能删除。",
                              "The recording is under retention or legal hold."),),
    "storage-unavailable": (Text("录音存储暂时不可用，请稍后重试。", "The recording storage is unavailable."),),
    "storage-refused": (Text("录音存储拒绝了这次操作。", "The recording storage refused the operation."),),
    "recording-object-not-found": (Text("存储中找不到这段录音。", "No recording object under this key."),),
    "invalid-storage-key": (Text("存储键无效。", "The storage key is not valid."),),
    "range-not-satisfiable": (
        Text("请求的范围超出了录音长度（共 {total_size} 字节）。",
             "The requested range is outside the recording ({total_size} bytes)."),
        Text("请求的范围超出了录音长度。", "The requested range is outside the recording."),
    ),
    "recording-integrity-failed": (Text("录音完整性校验失败（SHA-256 不一致）。",
                                        "The recording failed its integrity check (SHA-256 mismatch)."),),
    "invalid-recording": (Text("录音文件无效，无法处理。", "The recording file is not usable."),),
    "transcode-failed": (Text("录音转码失败。", "The recording could not be transcoded."),),
    "ingest-fault": (Text("录音入库出错。", "The recording ingest failed."),),
    "probe-unavailable": (Text("录音探测话机不可用。", "The recording probe phone is unavailable."),),
    # the two-person rule (approvals)
    "two-person-rule": (Text("此项解除需要两个人：请先提交解除申请，由同一委托方的另一位经理或管理员批准。",
                             "This release needs two people: ask for it, and another manager or admin of the "
                             "client approves it."),),
    "no-such-release-request": (
        Text("解除申请 {request_id} 不存在。", "No release request {request_id}."),
        Text("解除申请不存在。", "No such release request."),
    ),
    "nothing-to-release": (Text("没有需要解除的内容：暂停、禁止呼叫标记或法律保全已不存在。",
                                "Nothing to release: the hold, do-not-call mark or legal hold is not there."),),
    "release-already-requested": (
        Text("已有一个待处理的解除申请（{request_id}）。", "A release request is already pending ({request_id})."),
        Text("已有一个待处理的解除申请。", "A release request is already pending."),
    ),
    "release-request-decided": (Text("该解除申请已经处理过了。", "The release request was already decided."),),
    "release-request-expired": (Text("该解除申请已过期，请重新申请。", "The release request expired; ask again."),),
    "same-person": (Text("批准人必须是申请人以外的另一个人。",
                         "The approver must be another person than the requester."),),
    # agents' presence and campaigns
    "agent-not-available": (
        Text("坐席 {agent} 当前不是空闲状态，请先设为可用。",
             "Agent {agent} is not available: set them available first."),
        Text("坐席当前不是空闲状态。", "The agent is not available."),
    ),
    "agent-not-found": (
        Text("坐席 {agent} 不存在。", "No agent {agent}."),
        Text("坐席不存在。", "No such agent."),
    ),
    "state-not-settable": (Text("这个状态由通话决定，不能手动设置；请设置为可用、暂停或离线。",
                                "This state follows calls; set available, paused or offline."),),
    "unknown-pause-code": (
        Text("暂停原因无效，可用的原因：{pause_codes}。", "Unknown pause code; use one of {pause_codes}."),
        Text("暂停原因无效（只有暂停状态才带暂停原因）。", "Unknown pause code (only the paused state takes one)."),
    ),
    "no-offer": (Text("该坐席当前没有待拨的案件。", "The agent holds no offer."),),
    "no-such-campaign": (
        Text("外呼活动 {campaign_id} 不存在。", "No campaign {campaign_id}."),
        Text("外呼活动不存在。", "No such campaign."),
    ),
    "campaign-state-conflict": (Text("外呼活动当前的状态不允许这个操作。",
                                     "The campaign's state does not allow this."),),
    # the console's sign-in and sessions
    "sign-in-failed": (Text("用户名或密码错误。", "Wrong username or password."),),
    "wrong-password": (Text("原密码错误。", "The old password is wrong."),),
    "weak-password": (
        Text("密码太简单：至少 {min_length} 个字符。", "The password is too weak: at least {min_length} characters."),
        Text("密码太简单。", "The password is too weak."),
    ),
    "session-expired": (Text("长时间未操作，会话已结束，请重新登录。",
                             "The session ended after a time without use; sign in again."),),
    "csrf-token-invalid": (Text("请求缺少有效的防伪令牌（CSRF），请刷新页面后重试。",
                                "The request lacks a valid CSRF token; reload the page and try again."),),
    "not-a-session": (Text("只有控制台会话可以退出登录；令牌请通过撤销接口作废。",
                           "Only a console session signs out; revoke a token instead."),),
    "not-your-password": (Text("只有管理员可以设置其他用户的密码。", "Only an admin sets another user's password."),),
    "json-required": (Text("请用 JSON 请求体登录（Content-Type: application/json）。",
                           "Sign in with a JSON body (Content-Type: application/json)."),),
    "console-not-built": (Text("控制台尚未生成（请运行 make web）。", "The console is not built: run 'make web'."),),
    # reports
    "no-such-report": (
        Text("没有名为 {report} 的报表，可用的报表：{reports}。", "No report named {report}; use one of {reports}."),
        Text("报表不存在。", "No such report."),
    ),
    "bad-group-by": (
        Text("分组维度无效或重复：{bad}；可用：{allowed}。", "Unknown or repeated dimension {bad}; use {allowed}."),
        Text("分组维度无效或重复。", "Unknown or repeated dimension."),
    ),
    "report-needs-whole-client": (Text("该报表没有团队维度，只能按整个委托方查看。",
                                       "This report has no team dimension: it cannot be cut to your team."),),
}

# values shown as words: "<details key>:<value>" -> text
WORDS: dict[str, Text] = {
    "upstream:database": Text("数据库", "database"),
    "upstream:pbx": Text("电话交换机", "PBX"),
    "upstream:storage": Text("录音存储", "recording storage"),
    "upstream:recordings": Text("录音功能", "recordings feature"),
    "upstream:probe-phone": Text("录音探测话机", "probe phone"),
    "reason:dispute": Text("债务存在争议", "the debt is disputed"),
    "reason:denies_card": Text("持卡人否认该卡或消费", "the cardholder denies the card or spending"),
    "reason:suspected_fraud": Text("疑似欺诈或身份被冒用", "fraud or identity theft is suspected"),
    "reason:deceased": Text("债务人已去世", "the debtor is deceased"),
    "reason:cease_request": Text("债务人要求停止联系", "the debtor asked to stop communication"),
    "reason:attorney": Text("债务人已委托律师", "the debtor is represented by an attorney"),
    "reason:bankruptcy": Text("债务人已进入破产程序", "the debtor is in bankruptcy"),
    "reason:hardship": Text("债务人生活困难", "the debtor is in hardship"),
    "reason:illness": Text("债务人身患重病", "the debtor is seriously ill"),
    "reason:pregnancy": Text("债务人怀孕", "the debtor is pregnant"),
    "reason:other": Text("其他原因（见暂停备注）", "another reason (see the hold's note)"),
    # roles (a refusal names the caller's role and the roles needed)
    "role:agent": Text("坐席", "agent"),
    "role:supervisor": Text("主管", "supervisor"),
    "role:qa": Text("质检员", "qa"),
    "role:manager": Text("经理", "manager"),
    "role:admin": Text("管理员", "admin"),
    "role:integration": Text("系统对接账号", "integration"),
    "required_roles:agent": Text("坐席", "agent"),
    "required_roles:supervisor": Text("主管", "supervisor"),
    "required_roles:qa": Text("质检员", "qa"),
    "required_roles:manager": Text("经理", "manager"),
    "required_roles:admin": Text("管理员", "admin"),
    "required_roles:integration": Text("系统对接账号", "integration"),
    "weekday:mon": Text("周一", "Mon"), "weekday:tue": Text("周二", "Tue"), "weekday:wed": Text("周三", "Wed"),
    "weekday:thu": Text("周四", "Thu"), "weekday:fri": Text("周五", "Fri"), "weekday:sat": Text("周六", "Sat"),
    "weekday:sun": Text("周日", "Sun"),
    "sources:case": Text("案件", "case"), "sources:address": Text("地址", "address"),
    "sources:number_record": Text("号码记录", "number record"),
    "sources:phone_prefix": Text("号码归属地", "phone prefix"),
    "sources:country": Text("号码所属国家", "country"),
}

# the gate's rules: rule family (rule_id up to its first ':' detail) -> explanation from the block's params
RULES: dict[str, Text] = {
    "case-closed": Text("案件 {case_id} 已结案，不得再呼叫。", "Case {case_id} is closed; it may not be dialled."),
    "case-paid": Text("案件 {case_id} 已结清，不得再呼叫。", "Case {case_id} is paid; it may not be dialled."),
    "case-returned": Text("案件 {case_id} 已退回委托方，不得再呼叫。",
                          "Case {case_id} was returned to the client; it may not be dialled."),
    "case-recalled": Text("案件 {case_id} 已被委托方撤回，不得再呼叫。",
                          "Case {case_id} was recalled by the client; it may not be dialled."),
    "hold:hard": Text("案件 {case_id} 因{reason}暂停催收；这是法定停止，凭证据解除前不得呼叫，也不能由主管放行。",
                      "Case {case_id} is on hold because {reason}; this legal stop cannot be overridden."),
    "hold:override": Text("案件 {case_id} 因{reason}暂停催收；策略 {policy} 允许主管放行。",
                          "Case {case_id} is on hold because {reason}; policy {policy} lets a supervisor "
                          "override it."),
    "hold:block": Text("案件 {case_id} 因{reason}暂停催收；策略 {policy} 禁止呼叫。",
                       "Case {case_id} is on hold because {reason}; policy {policy} blocks calls."),
    "hold:other": Text("案件 {case_id} 因其他原因暂停催收（见暂停备注）；解除暂停前不得呼叫。",
                       "Case {case_id} is on hold for another reason; calls are blocked until it is released."),
    "do-not-call:number-status": Text("号码 {number} 已标记为禁止呼叫。", "The number {number} is marked do-not-call."),
    "do-not-call:number-invalid": Text("号码 {number} 已标记为无效，请核实后再拨。",
                                       "The number {number} is marked invalid."),
    "do-not-call:list": Text("号码 {number} 在策略 {policy} 的禁止呼叫名单上。",
                             "The number {number} is on the do-not-call list of policy {policy}."),
    "do-not-call:prefix": Text("号码 {number} 匹配策略 {policy} 的禁止呼叫号段 {prefix}。",
                               "The number {number} matches do-not-call prefix {prefix} of policy {policy}."),
    "third-party:disabled": Text("策略 {policy} 不允许呼叫第三方号码。",
                                 "Policy {policy} does not allow calling third-party numbers."),
    "third-party:objected": Text("第三方号码 {number} 的接听人已表示反对，永远不得再呼叫。",
                                 "The third party at {number} objected to being called."),
    "third-party:debtor-not-unreachable": Text(
        "第三方号码只能用于联系不上债务人时：债务人本人号码已连续失败 {failed} 次，需要 {needed} 次。",
        "A third-party number may only be used to locate an unreachable debtor: {failed} of {needed} "
        "consecutive failed attempts so far."),
    "third-party:already-called": Text("第三方号码 {number} 已呼叫 {calls} 次，最多允许 {max} 次。",
                                       "The third-party number {number} was already called {calls} time(s); "
                                       "at most {max} allowed."),
    "timezone:unknown": Text("无法确定号码 {number} 的时区（案件、地址和号码都没有给出时区），"
                             "策略 {policy} 禁止此类呼叫。",
                             "The callee's time zone is unknown for {number}; policy {policy} blocks such calls."),
    "holiday": Text("节假日不得呼叫：{holidays}。", "No calls on holidays: {holidays}."),
    "holiday:zone": Text("{date} 是 {zone} 的节假日", "{date} is a holiday in {zone}"),
    "zone": Text("{zone}（时区依据：{sources}）", "{zone} ({sources})"),
    "calling-hours": Text("超出允许的呼叫时间：{zones}。", "Outside calling hours: {zones}."),
    "calling-hours:zone": Text("{zone}当地时间为 {time}（{weekday}），允许呼叫的时间为 {allowed}",
                               "It is {time} ({weekday}) in {zone}; calls are allowed {allowed}"),
    "calling-hours:no-hours": Text("今天不允许呼叫", "no hours"),
    "calling-hours:not-together": Text("各候选时区的允许时间没有同时满足",
                                       "the window does not hold in every candidate zone at once"),
    "cap:unanswered-per-number-per-day": Text("今天已对号码 {number} 未接通呼叫 {count} 次，"
                                              "每天最多 {cap} 次（策略 {policy}）。",
                                              "{count} unanswered attempts to {number} today; at most {cap} per day "
                                              "(policy {policy})."),
    "cap:connected-per-debtor-per-day": Text("今天已与债务人接通 {count} 次，每天最多 {cap} 次（策略 {policy}）。",
                                             "{count} connected calls with the debtor today; at most {cap} per day "
                                             "(policy {policy})."),
    "cap:attempts-per-debtor-7d": Text("最近 7 天已呼叫债务人 {count} 次，最多 {cap} 次（策略 {policy}）。",
                                       "{count} attempts on the debtor in the last 7 days; at most {cap} "
                                       "(policy {policy})."),
    "cap:quiet-after-conversation": Text("已于 {at} 与债务人通话，通话后 {days} 天内不得再呼叫（通话当天算第 1 天）。",
                                         "A conversation took place at {at}; no call within {days} days after it."),
    "cap:min-gap-unanswered": Text("上次对号码 {number} 的未接通呼叫在 {at}，"
                                   "两次未接通呼叫至少间隔 {gap}。",
                                   "The last unanswered attempt to {number} was at {at}; wait at least "
                                   "{gap} between unanswered attempts."),
    # how the explanation is put together
    "allowed": Text("策略 {policy} 允许这次呼叫。", "Call allowed by policy {policy}."),
    "allowed:window": Text("策略 {policy} 允许这次呼叫：{times}，在允许的呼叫时间内，且没有次数限制或暂停。",
                           "Call allowed by policy {policy}: it is {times}, inside the calling window, and no cap "
                           "or hold applies."),
    "allowed:agreed": Text("策略 {policy} 允许这次呼叫：{times}，在客户同意的时段内，且没有次数限制或暂停。",
                           "Call allowed by policy {policy}: it is {times}, inside a window the customer agreed to, "
                           "and no cap or hold applies."),
    "allowed:zone": Text("{zone} 当地时间 {time}", "{time} in {zone}"),
    "overridden": Text("主管已放行（理由：{reason}），尽管：", "Allowed by supervisor override ({reason}) despite:"),
    "overridden-no-reason": Text("主管已放行，尽管：", "Allowed by supervisor override despite:"),
    "cases-unnamed": Text("号码属于 {count} 个案件。", "The number belongs to {count} case(s)."),
    "duration:minutes": Text("{n} 分钟", "{n} minute(s)"),
    "duration:seconds": Text("{n} 秒", "{n} second(s)"),
    "instant": Text("{zone} 当地时间 {local}（UTC {utc}）", "{utc} UTC ({local} in {zone})"),
    "instant:utc": Text("UTC 时间 {utc}", "{utc} UTC"),
    "blocked": Text("呼叫被拦截。", "The call is blocked."),
    "case-prefix": Text("案件 {case_id}：", "Case {case_id}: "),
    "cases": Text("号码 {number} 属于 {count} 个案件（{cases}），均按其中最严格的策略 {policy} 检查。",
                  "{number} belongs to {count} case(s) ({cases}), each checked under policy {policy}."),
    "next-allowed": Text("下次可呼叫时间：{at}。", "Next allowed at {at}."),
    "override-refused": Text("主管放行未被接受：{why}。", "Override refused: {why}."),
    "override-refused:role": Text("{role}无权放行（需要主管）", "role {role} may not override"),
    "override-refused:reason": Text("必须填写放行理由", "a reason is required"),
    "override-refused:policy": Text("策略 {policy} 不允许主管放行", "policy {policy} does not allow overrides"),
    "override-refused:fixed": Text("{rules} 不能被放行", "{rules} cannot be overridden"),
}
