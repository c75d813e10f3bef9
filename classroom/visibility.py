"""Who may see each event: one rule per event type, and one per coalesced tally.

The same rules route live broadcasts (to Socket.IO rooms) and coalesced
tallies, and filter the events replayed to a reconnecting client and those
published in a replay timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from classroom import events as e
from classroom import replay_events as r
from classroom.polls import Poll
from classroom.qa import SEEN, Question
from classroom.roles import Role, is_staff


@dataclass(frozen=True)
class Viewer:
    user_id: str
    role: Role
    room: str = e.MAIN_ROOM


@dataclass(frozen=True)
class Audience:
    everyone: bool = False
    rooms: frozenset[str] = field(default_factory=frozenset)
    staff: bool = False
    users: frozenset[str] = field(default_factory=frozenset)

    @property
    def reaches_learners(self) -> bool:
        """Whether a participant somewhere in the class sees it (what a replay may show)."""
        return self.everyone or bool(self.rooms)

    def includes(self, viewer: Viewer) -> bool:
        return (
            self.everyone
            or viewer.room in self.rooms
            or (self.staff and is_staff(viewer.role))
            or viewer.user_id in self.users
        )


EVERYONE = Audience(everyone=True)
NOBODY = Audience()


def room_of(room: str) -> Audience:
    return Audience(rooms=frozenset({room}))


def audience(ev: e.Event) -> Audience:
    match ev:
        case e.ChatSent(to_user=None):
            return room_of(ev.room)
        case e.ChatSent():
            return Audience(users=frozenset({ev.user_id, ev.to_user or ev.user_id}))
        case e.HandChanged() | e.ReactionSent():
            return room_of(ev.room)
        case e.ParticipantJoined() | e.ParticipantLeft() | e.RoleChanged() | e.ClassEnded():
            return EVERYONE
        case e.BreakoutPlanned() | e.BreakoutPlanDiscarded() | e.BreakoutHelpRequested():
            return Audience(staff=True)
        case e.BreakoutAssigned():
            return Audience(users=frozenset({ev.user_id}))
        case (
            e.ParticipantMoved()
            | e.BreakoutOpened()
            | e.BreakoutMessage()
            | e.BreakoutExtended()
            | e.BreakoutWarning()
            | e.BreakoutClosing()
            | e.BreakoutClosed()
        ):
            return EVERYONE
        case e.PollCreated():
            return Audience(staff=True)
        case e.PollGraded():
            return Audience(users=frozenset({ev.user_id}))
        case e.PollVoted():
            return NOBODY  # ballots reach clients only as coalesced tallies
        case e.PollEvent():
            return Audience(rooms=frozenset({ev.room}), staff=True)
        case e.QuestionEvent():
            if ev.public:
                return Audience(rooms=frozenset({ev.question.room}), staff=True)
            return Audience(staff=True)
        case e.QaModerationSet():
            return EVERYONE
        case e.TrackPublished() | e.TrackUnpublished() | e.MediaMuted() | e.SpeakerChanged():
            return room_of(ev.room)
        case (
            e.RecordingStarted()
            | e.RecordingPaused()
            | e.RecordingResumed()
            | e.RecordingStopped()
            | e.RecordingMarker()
        ):
            return EVERYONE
        case e.PublishLockSet() | e.PresenterSet() | e.BoardOpened():
            return EVERYONE
        case e.DeckAdded():  # presenters who are not staff ask for the decks (`slides:decks`)
            return Audience(staff=True, users=frozenset({ev.actor}))
        case e.SlideShown() | e.InkDrawn() | e.InkErased() | e.BoardCleared():
            return room_of(ev.room)
    return NOBODY


def results_audience(poll: Poll) -> Audience:
    """Who sees a poll's coalesced tallies (`poll:results`): hosts and moderators always,
    the poll's room once its results are shown or published."""
    shown = poll.results_visible_to("participant")
    return Audience(rooms=frozenset({poll.room}) if shown else frozenset(), staff=True)


def votes_audience(question: Question) -> Audience:
    """Who sees a question's coalesced votes (`qa:votes`): wherever the question is seen."""
    seen = question.status in SEEN
    return Audience(rooms=frozenset({question.room}) if seen else frozenset(), staff=True)


def replay_audience(ev: e.Event) -> Audience:
    """Who, watching a recording, sees an event of its stream: questions and their changes
    go to everyone watching (a dismissal too, so it leaves their lists); ballots, upvotes,
    visits and progress to nobody (tallies are coalesced)."""
    return EVERYONE if isinstance(ev, r.QUESTION_EVENTS) else NOBODY


def replay_results_audience(poll_id: str) -> Audience:
    """Who sees the async cohort's coalesced tally of a recorded poll (`replay:results`):
    hosts and moderators, and the learners who voted on it (in the replay, a poll's
    voters are its "room")."""
    return Audience(rooms=frozenset({poll_id}), staff=True)
