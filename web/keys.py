"""Typed keys of the objects the application holds."""

from __future__ import annotations

from aiohttp import web

from media.node import MediaNode
from recorder.service import Recorder
from signaling.gateway import Gateway
from signaling.metrics import Metrics
from signaling.ratelimit import RateLimiter
from signaling.registry import Registry
from signaling.replay_host import ReplayHost
from web.replay_reports import RecordingReports
from web.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
REGISTRY = web.AppKey("registry", Registry)
GATEWAY = web.AppKey("gateway", Gateway)
MEDIA = web.AppKey("media", MediaNode)
RECORDER = web.AppKey("recorder", Recorder)
REPLAY_JOINS = web.AppKey("replay_joins", RateLimiter)
REPLAYS = web.AppKey("replays", ReplayHost)
RECORDING_REPORTS = web.AppKey("recording_reports", RecordingReports)
