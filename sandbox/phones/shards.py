"""How the phones process splits its phones over pjsua processes ("shards") (pure).

Each pjsua process holds at most ``PJSUA_MAX_CALLS`` (4) calls and ``PJSUA_MAX_ACC`` (8) accounts.
Agents go ``PJSUA_MAX_CALLS`` per agent shard (one call each at a time); the customer line runs in
``customer_processes`` shards behind the relay (default: enough for one customer call per agent).
Each shard gets its own slice of the RTP port range.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from sip.config import PJSUA_MAX_CALLS, PhonesConfig


@dataclass(frozen=True)
class Shard:
    """One pjsua process: its name, its config, and what it hosts."""

    name: str
    config: PhonesConfig
    customer: bool
    agents: frozenset[str]


def customer_process_count(config: PhonesConfig) -> int:
    """How many customer-line processes to run."""
    if config.customer_processes > 0:
        return config.customer_processes
    return max(1, math.ceil(len(config.agents) / PJSUA_MAX_CALLS))


def plan_shards(config: PhonesConfig) -> list[Shard]:
    """Agent shards first, then customer-line shards (ports 0 = ephemeral; the relay owns the trunk)."""
    groups = [config.agents[i:i + PJSUA_MAX_CALLS] for i in range(0, len(config.agents), PJSUA_MAX_CALLS)]
    n_customer = customer_process_count(config)
    total = len(groups) + n_customer
    span = max(2, config.rtp_port_range // total)

    def shard_config(index: int, **changes: object) -> PhonesConfig:
        log_file = f"{config.log_file}.{index}" if config.log_file else None
        return dataclasses.replace(config, rtp_port=config.rtp_port + index * span, rtp_port_range=span,
                                   log_file=log_file, customer_processes=0, **changes)  # type: ignore[arg-type]

    shards = [Shard(f"agents-{i}", shard_config(i, agents=list(group), agent_port=config.agent_port if i == 0 else 0,
                                                customer_port=0, customer_line=False),
                    customer=False, agents=frozenset(a.sip_user for a in group))
              for i, group in enumerate(groups)]
    shards += [Shard(f"customer-{j}", shard_config(len(groups) + j, agents=[], agent_port=0, customer_port=0,
                                                   customer_line=True),
                     customer=True, agents=frozenset())
               for j in range(n_customer)]
    return shards
