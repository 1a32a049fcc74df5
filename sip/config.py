"""Configuration of the phones process (JSON file), as typed dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

AgentMode = Literal["answer", "never", "reject", "offline"]
# The PyPI pjsua2-python wheel is compiled with PJSUA_MAX_CALLS = 4 and pjsua clamps
# ``UaConfig.maxCalls`` to it silently; PJSUA_MAX_ACC is 8 (a 9th account aborts the process).
# So one pjsua process holds at most 4 calls: the phones process shards its phones over several.
PJSUA_MAX_CALLS = 4
PJSUA_MAX_ACC = 8
AGENT_MODES: frozenset[str] = frozenset({"answer", "never", "reject", "offline"})


@dataclass
class AgentPhone:
    """One agent softphone: registers as ``sip_user`` and behaves per ``behaviour``."""

    sip_user: str
    password: str
    behaviour: AgentMode = "answer"
    answer_delay: float = 0.5
    reject_code: int = 486
    tone_hz: int = 600
    record_dir: str | None = None

    def update(self, fields: dict[str, Any]) -> None:
        """Apply a ``set_behaviour`` command's fields (validated)."""
        if "behaviour" in fields:
            if fields["behaviour"] not in AGENT_MODES:
                raise ValueError(f"unknown agent behaviour {fields['behaviour']!r}")
            self.behaviour = fields["behaviour"]
        if "answer_delay" in fields:
            self.answer_delay = float(fields["answer_delay"])
        if "reject_code" in fields:
            self.reject_code = int(fields["reject_code"])
        if "tone_hz" in fields:
            self.tone_hz = int(fields["tone_hz"])


@dataclass
class PhonesConfig:
    """Whole phones-process configuration."""

    pbx_host: str
    pbx_port: int
    customer_port: int
    agents: list[AgentPhone] = field(default_factory=list)
    agent_port: int = 0
    customer_tone_hz: int = 1000
    customer_talk_seconds: float | None = None
    customer_answer_delay: float | None = None
    customer_record_dir: str | None = None
    rtp_port: int = 40000
    rtp_port_range: int = 10000
    registration_expires: int = 60
    log_file: str | None = None
    log_level: int = 3
    # 0 = as many customer-line processes as the agents could need (one customer call per agent)
    customer_processes: int = 0
    # shard-internal: False for a process that hosts only agents (no customer transport/account)
    customer_line: bool = True

    def to_json(self) -> str:
        """Serialise (the controller writes this file for the process)."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhonesConfig:
        """Build from parsed JSON; agent entries become AgentPhone."""
        values = dict(data)
        agents = [AgentPhone(**agent) for agent in values.pop("agents", [])]
        for agent in agents:
            if agent.behaviour not in AGENT_MODES:
                raise ValueError(f"unknown agent behaviour {agent.behaviour!r}")
        return cls(agents=agents, **values)

    @classmethod
    def load(cls, path: Path) -> PhonesConfig:
        """Read a JSON config file."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
