"""Prometheus metrics of one app (a registry per app, so tests and apps never share counters)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "campfire_requests",
            "HTTP requests answered, by route and status code",
            ["route", "status"],
            registry=self.registry,
        )
        self.generated_tokens = Counter(
            "campfire_generated_tokens",
            "Tokens generated, by checkpoint",
            ["checkpoint"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "campfire_batch_size",
            "Rows decoded together in one forward step",
            ["checkpoint"],
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "campfire_queue_depth",
            "Requests waiting for a batch slot",
            ["checkpoint"],
            registry=self.registry,
        )
        self.active_rows = Gauge(
            "campfire_active_rows",
            "Rows (candidates) decoding right now",
            ["checkpoint"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "campfire_request_latency_seconds",
            "Wall time of a generation request, from arrival to last token",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_token_latency = Histogram(
            "campfire_time_to_first_token_seconds",
            "Wall time from arrival to the first generated text",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._prefix_cache_metrics()

    def _prefix_cache_metrics(self) -> None:
        self.prefix_cache_hits = Counter(
            "campfire_prefix_cache_hits",
            "Prompts that reused the cached keys/values of a recent prompt or answer",
            ["checkpoint"],
            registry=self.registry,
        )
        self.prefix_cache_misses = Counter(
            "campfire_prefix_cache_misses",
            "Prompts prefilled from scratch",
            ["checkpoint"],
            registry=self.registry,
        )
        self.prefix_cache_reused_tokens = Counter(
            "campfire_prefix_cache_reused_tokens",
            "Prompt tokens not prefilled again thanks to the prefix cache",
            ["checkpoint"],
            registry=self.registry,
        )
        self.prefix_cache_bytes = Gauge(
            "campfire_prefix_cache_bytes",
            "Memory held by the prefix cache",
            ["checkpoint"],
            registry=self.registry,
        )

    def prefix_lookup(self, checkpoint: str) -> Callable[[int], None]:
        """The engine hook: one prefix-cache lookup that reused this many tokens (0: a miss)."""
        hits = self.prefix_cache_hits.labels(checkpoint)
        misses = self.prefix_cache_misses.labels(checkpoint)
        reused = self.prefix_cache_reused_tokens.labels(checkpoint)

        def observe(tokens: int) -> None:
            if tokens:
                hits.inc()
                reused.inc(tokens)
            else:
                misses.inc()

        return observe

    def render(self) -> bytes:
        return generate_latest(self.registry)
