"""Prometheus metrics of one server, in a registry of its own (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sockets = Gauge(
            "classroom_connected_sockets", "Sockets connected now", registry=self.registry
        )
        self.classes = Gauge(
            "classroom_live_classes", "Classes hosted here", registry=self.registry
        )
        self.events = Counter(
            "classroom_events_handled_total",
            "Inbound events handled, by event name",
            ["event"],
            registry=self.registry,
        )
        self.errors = Counter(
            "classroom_errors_total", "Error replies, by code", ["code"], registry=self.registry
        )
        self.refused = Counter(
            "classroom_connects_refused_total",
            "Socket.IO connects refused, by code",
            ["code"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "classroom_sockets_dropped_total",
            "Sockets the server cut off, by reason (backlog: not reading; ping_timeout: gone)",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "classroom_handler_seconds",
            "Time from an inbound event to its reply",
            ["event"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.leases = Gauge(
            "classroom_leases_held", "Class leases this node holds", registry=self.registry
        )
        self.redis_up = Gauge(
            "classroom_redis_up", "1 when the cluster's Redis is reachable", registry=self.registry
        )
        self.journal_records = Counter(
            "classroom_journal_records_total", "Events appended to journals", registry=self.registry
        )

        self.listener_failures = Counter(
            "classroom_listener_failures_total",
            "Events a listener (media, recorder, coalescer, timer) failed to handle",
            ["listener"],
            registry=self.registry,
        )
        self.classes_stopped = Counter(
            "classroom_classes_stopped_total",
            "Classes that stopped serving after a failed journal write or a lost lease",
            registry=self.registry,
        )
        self.classes_unloaded = Counter(
            "classroom_classes_unloaded_total",
            "Classes unloaded from memory because nobody used them (idle) or they ended",
            ["reason"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
