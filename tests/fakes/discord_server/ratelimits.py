"""Rate limits: per-route buckets with Discord's headers, plus 429s a test injects on purpose.

Every answer carries X-RateLimit-* headers for its bucket (route + major parameters), so the
client's bucket bookkeeping runs as it does against Discord. A test can make the next N requests
of a route (or all routes: global) answer 429 with a retry_after; a client that comes back before
retry_after is over gets another 429 and a `rate_limit_ignored` protocol error.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

# Requests under these routes do not count against, or wait for, the bot's global limit.
_GLOBAL_EXEMPT_PREFIXES = ("/interactions/", "/webhooks/")
# asyncio may wake a sleeper up to its clock resolution early; do not call that a violation.
_EARLY_TOLERANCE_S = 0.01
# A request that was already on its way when the 429 went out is not ignoring it.
_IN_FLIGHT_GRACE_S = 0.05


@dataclass
class RateLimitRule:
    """The next `count` requests matching `method route` answer 429 (route "*" matches any)."""

    id: int
    route: str
    method: str | None
    retry_after: float
    count: int
    is_global: bool
    hits: int = 0

    def matches(self, method: str, route: str) -> bool:
        return (self.route in ("*", route)) and (self.method is None or self.method == method)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "method": self.method,
            "retry_after": self.retry_after,
            "count": self.count,
            "global": self.is_global,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class Limited:
    """The verdict "answer 429"."""

    retry_after: float
    is_global: bool
    scope: str
    bucket: str
    ignored_previous: bool  # the client retried before the previous retry_after was over


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class RateLimiter:
    limit: int = 50
    window: float = 1.0
    rules: list[RateLimitRule] = field(default_factory=list)
    _windows: dict[str, _Window] = field(default_factory=dict)
    # bucket -> (blocked since, blocked until); "" is the global block
    _blocks: dict[str, tuple[float, float]] = field(default_factory=dict)
    _rule_counter: int = 0

    def inject(
        self, route: str, *, retry_after: float, count: int, is_global: bool, method: str | None
    ) -> RateLimitRule:
        self._rule_counter += 1
        rule = RateLimitRule(self._rule_counter, route, method, retry_after, count, is_global)
        self.rules.append(rule)
        return rule

    @staticmethod
    def bucket_hash(method: str, route: str) -> str:
        return hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]

    def check(self, method: str, route: str, path: str, major: str) -> Limited | None:
        now = time.monotonic()
        bucket = f"{method} {route}:{major}"
        exempt = path.startswith(_GLOBAL_EXEMPT_PREFIXES)
        for key, is_global in (("", True), (bucket, False)):
            if is_global and exempt:
                continue
            since, until = self._blocks.get(key, (0.0, 0.0))
            if now < until - _EARLY_TOLERANCE_S:
                ignored = now - since > _IN_FLIGHT_GRACE_S
                return Limited(
                    until - now, is_global, "global" if is_global else "user", bucket, ignored
                )
        for rule in self.rules:
            if rule.count > 0 and rule.matches(method, route):
                rule.count -= 1
                rule.hits += 1
                self._blocks["" if rule.is_global else bucket] = (now, now + rule.retry_after)
                return Limited(
                    rule.retry_after,
                    rule.is_global,
                    "global" if rule.is_global else "user",
                    bucket,
                    False,
                )
        window = self._windows.get(bucket)
        if window is None or now - window.started >= self.window:
            window = self._windows[bucket] = _Window(now)
        window.count += 1
        if window.count > self.limit:
            retry_after = window.started + self.window - now
            self._blocks[bucket] = (now, now + retry_after)
            return Limited(retry_after, False, "user", bucket, False)
        return None

    def headers(self, method: str, route: str, major: str) -> dict[str, str]:
        bucket = f"{method} {route}:{major}"
        now = time.monotonic()
        window = self._windows.get(bucket) or _Window(now)
        reset_after = max(window.started + self.window - now, 0.0)
        return {
            "X-RateLimit-Bucket": self.bucket_hash(method, route),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - window.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }

    def limited_headers(self, method: str, route: str, verdict: Limited) -> dict[str, str]:
        headers = {
            "Retry-After": str(math.ceil(verdict.retry_after)),
            "X-RateLimit-Bucket": self.bucket_hash(method, route),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + verdict.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{verdict.retry_after:.3f}",
            "X-RateLimit-Scope": verdict.scope,
        }
        if verdict.is_global:
            headers["X-RateLimit-Global"] = "true"
        return headers
