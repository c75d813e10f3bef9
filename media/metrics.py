"""The SFU's figures on the server's /metrics page, read from the node when scraped."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from media.node import MediaNode


class MediaCollector(Collector):
    def __init__(self, node: MediaNode) -> None:
        self.node = node

    def collect(self) -> Iterable[Metric]:
        node, tally = self.node, self.node.totals()
        yield GaugeMetricFamily(
            "classroom_media_peer_connections",
            "WebRTC peer connections open on this node",
            value=node.peer_connections(),
        )
        yield GaugeMetricFamily(
            "classroom_media_tracks", "Published tracks being forwarded", value=node.tracks()
        )
        yield GaugeMetricFamily(
            "classroom_media_streams",
            "Subscriber m-lines carrying a track (one per track and receiver)",
            value=node.streams(),
        )
        yield CounterMetricFamily(
            "classroom_media_frames_received",
            "Encoded frames reassembled from publishers",
            value=tally.frames_in,
        )
        yield CounterMetricFamily(
            "classroom_media_frames_forwarded",
            "Frames sent to subscribers (a video frame counts at its last packet)",
            value=tally.delivered,
        )
        yield CounterMetricFamily(
            "classroom_media_frames_dropped",
            "Frames not sent to a subscriber: waiting for a keyframe or behind",
            value=tally.dropped,
        )
        yield CounterMetricFamily(
            "classroom_media_packets_forwarded",
            "RTP packets sent to subscribers",
            value=tally.packets,
        )
        yield CounterMetricFamily(
            "classroom_media_packets_retransmitted",
            "RTP packets sent again to subscribers that reported them lost (NACK)",
            value=tally.retransmitted,
        )
        yield CounterMetricFamily(
            "classroom_media_keyframe_requests",
            "Keyframe requests (PLI) sent to publishers",
            value=tally.keyframe_requests,
        )
