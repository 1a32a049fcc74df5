"""The request rate limit's token buckets, on a fake clock (no sleeping)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from api.middleware import credential_key
from auth.sessions import SESSION_COOKIE
from config.settings import ConfigError, load_settings
from core.ratelimit import RateLimited, RateLimiter


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_applies() -> None:
    clock = Ticks()
    limiter = RateLimiter(2.0, 5, clock=clock)
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") == pytest.approx(0.5)  # one request refills in 1/rate s
    clock.now += 0.25
    assert limiter.take("a") == pytest.approx(0.25)  # a refused request takes nothing
    clock.now += 0.25
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 10
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5  # refilled to the burst, never beyond
    assert limiter.take("a") > 0


def test_a_credential_that_starts_being_refused_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Ticks()
    limiter = RateLimiter(1.0, 1, clock=clock)
    with caplog.at_level("WARNING", logger="core.ratelimit"):
        limiter.take("token:abc")
        for _ in range(5):
            limiter.take("token:abc")
        assert len(caplog.records) == 1 and "token:abc" in caplog.records[0].getMessage()
        clock.now += 1
        limiter.take("token:abc")  # allowed again
        limiter.take("token:abc")  # a new episode
    assert len(caplog.records) == 2


def test_each_key_has_its_own_bucket() -> None:
    clock = Ticks()
    limiter = RateLimiter(1.0, 2, clock=clock)
    assert limiter.take("a") == limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_check_raises_rate_limited_with_whole_seconds() -> None:
    clock = Ticks()
    limiter = RateLimiter(0.4, 1, clock=clock)
    limiter.check("a")
    with pytest.raises(RateLimited) as info:
        limiter.check("a")
    assert info.value.status == 429 and info.value.code == "rate-limited"
    assert info.value.retry_after_s == 3  # 2.5 s, rounded up
    assert info.value.details == {"retry_after_s": 3, "requests_per_s": 0.4, "burst": 1}
    clock.now += 2.5
    limiter.check("a")


def test_memory_is_bounded_and_the_least_recently_used_bucket_goes_first() -> None:
    clock = Ticks()
    limiter = RateLimiter(1.0, 1, max_buckets=3, clock=clock)
    for key in ("a", "b", "c"):
        limiter.take(key)
    assert limiter.take("a") > 0  # "a" is now the most recently used
    limiter.take("d")  # a fourth key: "b" (least recently used) is forgotten
    assert len(limiter) == 3
    assert limiter.take("a") > 0 and limiter.take("c") > 0 and limiter.take("d") > 0
    assert limiter.take("b") == 0.0  # forgotten: comes back full
    for i in range(10_000):
        limiter.take(f"k{i}")
    assert len(limiter) == 3


@pytest.mark.parametrize(("rate", "burst", "buckets"), [(0, 1, 1), (-1, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int, buckets: int) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate, burst, max_buckets=buckets)


@pytest.mark.parametrize(("key", "value"), [("requests_per_s", 0), ("requests_per_s", -5), ("request_burst", 0),
                                            ("rate_limit_buckets", 10), ("requests_per_s", "fast")])
def test_settings_are_validated_at_start_up(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(None, auth={key: value})


def test_settings_defaults() -> None:
    auth = load_settings(None).auth
    assert (auth.requests_per_s, auth.request_burst) == (100.0, 1000)


def test_each_token_and_each_console_session_has_its_own_bucket_and_the_rest_their_address() -> None:
    def key(headers: dict[str, str]) -> str:
        return credential_key(make_mocked_request("GET", "/v1/cases", headers=headers))

    alice, bob = key({"Cookie": f"{SESSION_COOKIE}=s-alice"}), key({"Cookie": f"{SESSION_COOKIE}=s-bob"})
    assert alice.startswith("session:") and alice != bob and "s-alice" not in alice
    token = key({"Authorization": "Bearer cg_secret", "Cookie": f"{SESSION_COOKIE}=s-alice"})
    assert token.startswith("token:") and "cg_secret" not in token  # the bearer token wins
    assert key({}).startswith("address:")
