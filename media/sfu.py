"""The selective forwarding unit of one class: who sends what, who receives what.

The class's events drive it (it is one of the runtime's listeners): a track
published or unpublished, a source muted, someone moving room or leaving.
After each, every participant's set of tracks to receive is recomputed — the
tracks of the room they are in now, minus their own, minus what they
unsubscribed from, minus the video they do not show (`rtc:view`) — and a
participant whose set changed gets a new offer on their `sub` connection.
Room moves are noticed by comparing each participant's known room with the
class state after every event, whatever event moved them.

A video track may have a low layer (`rtc:publish` with `layers`): a feed of
its own, not in `feeds`, kept in `lows` under the track's id. A subscriber
showing a track small gets its low layer when there is one: the same slot
is rebound from one layer's feed to the other's, which keeps the stream
continuous and needs no new offer.

The SFU never commits from inside a listener call (the runtime is flushing):
journal writes it causes (a publisher's connection failing, a new active
speaker) run as tasks of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from aiortc import RTCSessionDescription

from classroom import events as e
from classroom.commands import Layer
from classroom.errors import DomainError
from classroom.live import Member
from classroom.media_state import NewTrack
from classroom.media_wire import tracks_message
from media import sdp
from media.downlink import Downlink, LocalDownlink
from media.ice import IceConfig
from media.participant import Participant
from media.speakers import Change, Speakers
from media.tracks import Feed, Tally
from signaling.runtime import ClassRuntime
from signaling.tasks import TaskSet
from signaling.transport import area_room, user_room

log = logging.getLogger(__name__)


class Sfu:
    def __init__(
        self,
        runtime: ClassRuntime,
        ice: IceConfig,
        clock: Callable[[], float] = time.monotonic,
        tally: Tally | None = None,
        downlinks: Callable[[], Downlink] | None = None,
    ) -> None:
        self.runtime = runtime
        self.tally = tally or Tally()
        self.ice = ice
        self._downlinks = downlinks or (lambda: LocalDownlink(ice.configuration(), self.tally))
        self.people: dict[str, Participant] = {}
        self.feeds: dict[str, Feed] = {}
        """Published track id -> its feed."""
        self.lows: dict[str, Feed] = {}
        """Published track id -> the feed of its low layer, if its publisher sends one."""
        self.speakers = Speakers()
        self.closed = False
        self._clock = clock
        self._tasks = TaskSet()
        self._retiring: dict[str, asyncio.Future[Any]] = {}
        """user id -> unpublishing the tracks of their previous socket."""

    # -- participants -----------------------------------------------------------

    def member(self, user_id: str) -> Member:
        """The user, still present: a negotiation takes time, and people leave."""
        if self.closed:
            raise DomainError("conflict", "the class has ended")
        return self.runtime.room.present(user_id)

    def participant(self, user_id: str, sid: str | None = None) -> Participant:
        """The user's media state, started afresh when a newer socket of theirs appears."""
        member = self.member(user_id)
        session = self.runtime.sessions.get(user_id)
        sid = sid or (session.sid if session is not None else "")
        known = self.people.get(user_id)
        if known is not None and (known.sid == sid or not sid or not known.sid):
            known.sid = known.sid or sid
            return known
        if known is not None:
            self._retire(known, "replaced")
        fresh = Participant(user_id, member.room, sid, self.ice.configuration(), self.tally)
        fresh.downlinks = self._open_downlink(fresh)
        self.people[user_id] = fresh
        return fresh

    def _open_downlink(self, p: Participant) -> Callable[[], Downlink]:
        def opened() -> Downlink:
            downlink = self._downlinks()
            downlink.on_lost = lambda: self._sub_lost(p, downlink)
            return downlink

        return opened

    def _sub_lost(self, p: Participant, downlink: Downlink) -> None:
        """A media worker died with this `sub`: offer a new one (the client starts afresh)."""
        if p.closed or p.sub is not downlink:
            return
        log.info("sub connection of %s lost; offering a new one", p.user_id)
        p.sub_lost()
        self._kick(p)

    def _retire(self, p: Participant, reason: str) -> None:
        """Forget a participant now; close its connections and unpublish its tracks soon."""
        p.closed = True
        if self.people.get(p.user_id) is p:
            del self.people[p.user_id]
        gone = list(p.published.values())
        self._spawn(p.close())
        if gone:
            task = self._commit_later(lambda: self._unpublish(gone, reason))
            if reason == "replaced":
                self._retiring[p.user_id] = task

    # -- publishing ---------------------------------------------------------------

    async def publish(
        self,
        user_id: str,
        sid: str,
        offer: sdp.Description,
        sources: dict[str, e.TrackSource],
        layers: dict[str, Layer] | None = None,
    ) -> str:
        """Answer a publish offer; the tracks it starts are published once it is answered."""
        p = self.participant(user_id, sid)
        retiring = self._retiring.pop(user_id, None)
        if retiring is not None:
            await retiring  # the previous socket's tracks are gone before these arrive
        async with p.pub_lock:
            member = self.member(user_id)
            if p.closed:
                raise DomainError("conflict", "a newer connection of yours took over")
            sending = sdp.check_publishable(offer)
            offered = self._new_tracks(p, sending, sources, layers or {})
            dropped = [mid for mid in p.lows if not _still_sent(offer, mid)]
            kept = {tid for mid, tid in p.lows.items() if mid not in dropped}
            layered = {
                t.source for t in self.runtime.room.media.of_user(user_id) if t.track_id in kept
            }
            self.runtime.room.media.check_publish(member, offered, layered)  # before negotiating
            stopped = [tid for mid, tid in p.published.items() if not _still_sent(offer, mid)]
            resumed = set(p.taps)
            answer = await self._negotiate_pub(p, offer)
            negotiated = sdp.sections(answer)
            offered = [t for t in offered if t.key in p.taps and _receiving(negotiated, t.key)]
            member = self.member(user_id)
            media = self.runtime.room.media
            try:
                published, ids = media.publish(member, offered, self.runtime.ids, layered)
            except DomainError:
                if not p.published:
                    await p.close_pub()
                raise
            for mid in dropped:
                self._drop_low(p, mid)
            for new in offered:
                if new.key in resumed:  # an m-line sending again after a pause
                    p.restart(new.key)
                feed = p.taps[new.key]
                feed.mime = _mime(new.kind, negotiated, new.key)
                feed.source, feed.track_id, feed.user_id = new.source, ids[new.key], user_id
                feed.layer, feed.muted = new.layer, media.is_muted(user_id, new.source)
                if new.layer == "low":
                    p.lows[new.key] = ids[new.key]
                    self.lows[ids[new.key]] = feed
                else:
                    p.published[new.key] = ids[new.key]
                    self.feeds[ids[new.key]] = feed
            await self.runtime.commit(self._unpublish(stopped, "stopped") + published)
            if dropped or any(new.layer == "low" for new in offered):
                self._kick_present()  # a layer came or went: move the subscribers showing it small
            return sdp.announce(answer, self.ice.announce)

    def _new_tracks(
        self,
        p: Participant,
        sending: list[sdp.Section],
        sources: dict[str, e.TrackSource],
        layers: dict[str, Layer],
    ) -> list[NewTrack]:
        taken = {(f.source, f.kind) for mid, f in p.taps.items() if mid in p.published}
        out: list[NewTrack] = []
        for sec in sending:
            if sec.mid in p.published or sec.mid in p.lows:
                continue
            kind: e.TrackKind = "audio" if sec.kind == "audio" else "video"
            if layers.get(sec.mid) == "low":
                out.append(NewTrack(sec.mid, kind, sources.get(sec.mid) or "camera", "low"))
                continue
            source = sources.get(sec.mid) or _default_source(kind, taken)
            taken.add((source, kind))
            out.append(NewTrack(sec.mid, kind, source))
        return out

    async def _negotiate_pub(self, p: Participant, offer: sdp.Description) -> str:
        fresh = p.pub is None
        pc = p.pub or p.open_pub(self._on_level)
        if fresh:
            self._watch_pub(p)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer.text, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            log.info("publish offer of %s refused: %s", p.user_id, exc)
            if fresh:
                await p.close_pub()
            raise DomainError("bad_request", f"the offer could not be applied: {exc}") from exc
        return str(pc.localDescription.sdp)

    def _watch_pub(self, p: Participant) -> None:
        pc = p.pub
        assert pc is not None

        def changed() -> None:
            if pc.connectionState == "failed" and p.pub is pc and not p.closed:
                log.info("publish connection of %s failed", p.user_id)
                gone = list(p.published.values())
                p.spawn(p.close_pub())
                self._commit_later(lambda: self._unpublish(gone, "failed"))

        pc.on("connectionstatechange", changed)

    def _drop_low(self, p: Participant, mid: str) -> None:
        """A low layer's m-line stopped sending: its subscribers go back to the full picture."""
        track_id = p.lows.pop(mid)
        feed = self.lows.get(track_id)
        if feed is not None and feed is p.taps.get(mid):
            del self.lows[track_id]
            feed.close()

    def _unpublish(self, track_ids: list[str], reason: str) -> list[e.Event]:
        known = [t for t in track_ids if t in self.runtime.room.media.tracks]
        return self.runtime.room.media.unpublish(self.runtime.room.live, known, reason)

    # -- receiving ------------------------------------------------------------------

    async def answer(self, user_id: str, sid: str, answer: sdp.Description) -> None:
        p = self.participant(user_id, sid)
        async with p.sub_lock:
            if p.sub is None:
                raise DomainError("conflict", "no offer is waiting for an answer")
            await p.sub.answer(answer.text)
        if p.dirty:
            self._kick(p)

    async def candidate(
        self,
        user_id: str,
        sid: str,
        which: str,
        line: str | None,
        mid: str | None,
        index: int | None,
    ) -> None:
        p = self.participant(user_id, sid)
        if which == "sub":
            if p.sub is None:
                raise DomainError("conflict", "the sub connection is not negotiated yet")
            await p.sub.candidate(line, mid, index)
            return
        if p.pub is None or p.pub.remoteDescription is None:
            raise DomainError("conflict", "the pub connection is not negotiated yet")
        found = sdp.candidate(line, mid, index)
        if found is not None and sdp.mdns(found):
            return  # mDNS names are not resolved here (that would multicast)
        await p.pub.addIceCandidate(found)

    def subscribe(self, user_id: str, sid: str, track_ids: list[str], on: bool) -> None:
        p = self.participant(user_id, sid)
        room = {t.track_id for t in self.runtime.room.media.in_room(self.runtime.room.live, p.room)}
        unknown = [t for t in track_ids if t not in room]
        if unknown:
            raise DomainError("not_found", f"no track {unknown[0]!r} in your room")
        if on:
            p.unsubscribed.difference_update(track_ids)
        else:
            p.unsubscribed.update(track_ids)
        self._kick(p)

    def view(
        self, user_id: str, sid: str, tracks: dict[str, Layer] | None, audio_only: bool
    ) -> dict[str, Layer]:
        """What the participant shows now; returns the layer forwarded of each video track."""
        p = self.participant(user_id, sid)
        live, media = self.runtime.room.live, self.runtime.room.media
        room = {t.track_id: t for t in media.in_room(live, p.room)}
        for track_id in tracks or {}:
            track = room.get(track_id)
            if track is None:
                raise DomainError("not_found", f"no track {track_id!r} in your room")
            if track.kind != "video":
                raise DomainError("bad_request", f"{track_id!r} is audio: audio is always received")
        p.view = None if tracks is None else dict(tracks)
        p.audio_only = audio_only
        self._kick(p)
        return {t: f.layer for t, f in self.wanted(p).items() if f.kind == "video"}

    def wanted(self, p: Participant) -> dict[str, Feed]:
        """Track id -> the feed `p` should receive it from (for video, of the layer shown)."""
        live, media = self.runtime.room.live, self.runtime.room.media
        out: dict[str, Feed] = {}
        for t in media.in_room(live, p.room):
            feed = self.feeds.get(t.track_id)
            if t.user_id == p.user_id or feed is None or t.track_id in p.unsubscribed:
                continue
            if t.kind == "video":
                layer = p.shows(t.track_id)
                if layer is None:
                    continue
                if layer == "low":
                    feed = self.lows.get(t.track_id, feed)
            out[t.track_id] = feed
        return out

    def _kick_present(self) -> None:
        for member in self.runtime.room.live.present():
            # A member whose join is applied but not yet broadcast has no socket
            # in its rooms: an offer now would be lost. Its own join kicks it.
            if self.runtime.reachable(member.user_id):
                self._kick(self.participant(member.user_id))

    def _kick(self, p: Participant) -> None:
        """Bind what `p` should receive now; renegotiate `sub` once it is stable."""
        if p.closed:
            return
        wanted = self.wanted(p)
        for track_id, index in list(p.bound.items()):
            feed, slot = wanted.get(track_id), p.slots[index]
            if feed is slot.feed:
                continue
            if feed is not None and feed.mime == slot.mime:
                p.bind(index, feed)  # the other layer of the same track: same m-line, no offer
                continue
            p.bind(index, None)
            del p.bound[track_id]
        for track_id, feed in wanted.items():
            if track_id not in p.bound:
                index = p.slot_for(feed)
                p.bind(index, feed)
                p.bound[track_id] = index
        p.dirty = True
        if p.sub is not None and not p.sync_running():
            p.start_sync(self._sync(p))

    async def _sync(self, p: Participant) -> None:
        while p.dirty and not p.closed and p.sub is not None:
            async with p.sub_lock:
                downlink = p.sub
                if downlink is None or not downlink.stable:
                    return  # the answer kicks again
                p.dirty = False
                layout = p.layout()
                if layout == p.offered:
                    continue
                try:
                    text, mids = await downlink.offer()
                except DomainError as exc:
                    if p.sub is not downlink:
                        continue  # lost meanwhile (its media worker died): offer the new one
                    log.info("no sub offer for %s: %s", p.user_id, exc.message)
                    return
                if p.sub is not downlink:
                    continue
                p.sub_mids, p.offered, p.offers = mids, layout, p.offers + 1
                offer: dict[str, Any] = {
                    "sdp": sdp.announce(sdp.without_receive_estimate(text), self.ice.announce),
                    "type": "offer",
                    "mids": p.mids(),
                }
                if p.renew:
                    offer["renew"], p.renew = True, False
            await self.runtime.transport.emit(
                "rtc:offer", offer, to=user_room(self.runtime.class_id, p.user_id)
            )

    # -- audio levels -------------------------------------------------------------------

    def _on_level(self, feed: Feed, level: int) -> None:
        if feed.muted or feed.source != "mic" or feed.track_id not in self.feeds:
            return
        owner = self.people.get(feed.user_id)
        if owner is None:
            return
        change = self.speakers.observe(owner.room, owner.user_id, level, self._clock())
        if change is not None:
            self._announce_speakers([change])

    def _announce_speakers(self, changes: list[Change]) -> None:
        room = self.runtime.room
        for change in changes:
            speaker = partial(room.media.speaker, room.live, change.room, change.user_id)
            self._commit_later(speaker)

    # -- the class's events ---------------------------------------------------------------

    async def on_event(self, ev: e.Event) -> None:
        if self.closed:
            return
        rooms: set[str] = set()
        match ev:
            case e.ParticipantJoined():
                self._kick(self.participant(ev.user_id))
                await self._send_tracks(ev.room, to_user=ev.user_id)
            case e.ParticipantLeft():
                self._retiring.pop(ev.user_id, None)
                known = self.people.get(ev.user_id)
                if known is not None:
                    self._retire(known, "left")
                self._announce_speakers(self.speakers.forget(ev.user_id))
            case e.TrackPublished():
                rooms.add(ev.room)
            case e.TrackUnpublished():
                self._track_gone(ev)
                rooms.add(ev.room)
            case e.MediaMuted():
                self._muted(ev)
                rooms.add(ev.room)
            case e.PublishLockSet(publish=False) | e.RoleChanged():
                self._lock_out()
            case e.ClassEnded():
                self._spawn(self.close())
                return
        movers = self._moves()
        rooms |= {room for pair in movers.values() for room in pair}
        if rooms:
            self._kick_present()
            for room in rooms:
                await self._send_tracks(room)
        for user_id in movers:
            # Their socket may not be in the new room's broadcast group yet (the
            # state runs ahead of the broadcast): tell them directly.
            await self._send_tracks(self.people[user_id].room, to_user=user_id)

    def _track_gone(self, ev: e.TrackUnpublished) -> None:
        feed = self.feeds.pop(ev.track_id, None)
        low = self.lows.pop(ev.track_id, None)
        for gone in (feed, low):
            if gone is not None:
                gone.close()
        for p in self.people.values():
            p.unsubscribed.discard(ev.track_id)
            if p.view is not None:
                p.view.pop(ev.track_id, None)
            for sent in (p.published, p.lows):
                for mid, track_id in list(sent.items()):
                    if track_id == ev.track_id:
                        del sent[mid]
        if feed is not None and feed.source == "mic":
            self._announce_speakers(self.speakers.forget(ev.user_id))

    def _muted(self, ev: e.MediaMuted) -> None:
        publisher = self.people.get(ev.user_id)
        if publisher is None:
            return
        for mid in publisher.sent():
            feed = publisher.taps.get(mid)
            if feed is not None and feed.source == ev.source:
                feed.set_muted(ev.muted)
        if ev.muted and ev.source == "mic":
            self._announce_speakers(self.speakers.forget(ev.user_id))

    def _lock_out(self) -> None:
        """Stop receiving from whoever may no longer publish (locked out, or demoted)."""
        media = self.runtime.room.media
        for p in self.people.values():
            member = self.runtime.room.live.members.get(p.user_id)
            if p.pub is None or (member is not None and media.may_publish(member)):
                continue
            left = list(p.published.values())
            p.spawn(p.close_pub())
            if left:  # a demotion while locked: the lock itself unpublished the rest
                self._commit_later(partial(self._unpublish, left, "locked"))

    def _moves(self) -> dict[str, tuple[str, str]]:
        """Who is not where we last saw them: user id -> (old room, new room)."""
        moved: dict[str, tuple[str, str]] = {}
        for p in self.people.values():
            member = self.runtime.room.live.members.get(p.user_id)
            if member is not None and member.present and member.room != p.room:
                moved[p.user_id] = (p.room, member.room)
                p.room = member.room
                self._announce_speakers(self.speakers.forget(p.user_id))
        return moved

    async def _send_tracks(self, room: str, to_user: str | None = None) -> None:
        state, cid = self.runtime.room, self.runtime.class_id
        payload = tracks_message(state.media, state.live, room, state.seq)
        to = user_room(cid, to_user) if to_user else area_room(cid, room)
        await self.runtime.transport.emit("rtc:tracks", payload, to=to)

    # -- tasks -------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        return self._tasks.spawn(work)

    def _commit_later(self, drafts: Callable[[], list[e.Event]]) -> asyncio.Future[Any]:
        """Commit events built when the task runs (never while the runtime flushes)."""

        async def commit() -> None:
            try:
                if not self.runtime.failed:
                    await self.runtime.commit(drafts())
            except DomainError as exc:
                log.warning("class %s: media event not recorded: %s", self.runtime.class_id, exc)

        return self._spawn(commit())

    async def settle(self) -> None:
        """Wait for the SFU's own background work (closing, journaling) to finish."""
        for _ in range(100):
            current = asyncio.current_task()
            pending = [t for t in self._tasks if not t.done() and t is not current]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    def peer_connections(self) -> int:
        return sum(p.peer_connections() for p in self.people.values())

    def streams(self) -> int:
        """Subscriber m-lines carrying a track now."""
        return sum(len(p.bound) for p in self.people.values())

    async def close(self) -> None:
        """Close every connection of the class (the class ended or this node stops hosting it)."""
        if self.closed:
            return
        self.closed = True
        people, self.people = list(self.people.values()), {}
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)
        for feed in [*self.feeds.values(), *self.lows.values()]:
            feed.close()
        self.feeds.clear()
        self.lows.clear()
        await self.settle()


def _still_sent(offer: sdp.Description, mid: str) -> bool:
    sec = offer.section(mid)
    return sec is not None and sec.sends


def _receiving(answer: list[sdp.Section], mid: str) -> bool:
    sec = next((s for s in answer if s.mid == mid), None)
    return (
        sec is not None
        and sec.port != 0
        and sec.direction in ("recvonly", "sendrecv")
        and bool(sec.codec)
    )


def _mime(kind: str, answer: list[sdp.Section], mid: str) -> str:
    sec = next(s for s in answer if s.mid == mid)
    return {"opus": "audio/opus", "vp8": "video/VP8", "h264": "video/H264"}[sec.codec]


def _default_source(kind: e.TrackKind, taken: set[tuple[str, str]]) -> e.TrackSource:
    if kind == "audio":
        return "mic" if ("mic", "audio") not in taken else "screen"
    return "camera" if ("camera", "video") not in taken else "screen"
