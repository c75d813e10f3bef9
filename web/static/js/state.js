// The class as this client knows it: a snapshot, then every event folded in.
// Pure data, no DOM: the live page and the replay page share these reducers
// (the replay folds its recorded timeline through the same `apply`).

import { BOARD_REDUCERS, emptySlides, slidesFromSnapshot } from "./board_state.js";

export const MAIN = "main";
const CHAT_KEEP = 500;

// Messages that are state, not journal events: some carry the class seq they
// reflect (`as_of`, or `seq` in rtc:tracks) but must not advance (or be
// dropped by) the journal position.
export const DERIVED = new Set([
  "class:state", "class:resumed", "poll:results", "qa:votes", "rtc:tracks", "rtc:offer",
  "session:replaced",
]);

export function createState() {
  return {
    seq: 0,
    ready: false,
    ended: false,
    classInfo: { id: "", title: "" },
    you: null,
    people: new Map(),
    hands: new Map(),
    chat: [],
    polls: new Map(),
    questions: new Map(),
    qaModeration: false,
    breakouts: null,
    plan: null,
    help: [],
    messages: [],
    recording: { state: "idle", recording_id: null },
    tracks: new Map(),
    tracksSeq: -1,
    roomTracks: new Map(),  // room -> the latest rtc:tracks {seq, tracks} for it
    muted: new Set(),
    speaker: null,
    locks: { publish: true },
    media: { mode: "sfu", ice_servers: [] },
    reactions: [],
    slides: emptySlides(),
  };
}

export function isStaff(role) { return role === "host" || role === "moderator"; }
export function amStaff(s) { return Boolean(s.you && isStaff(s.you.role)); }
export function myRoom(s) { return s.you?.room ?? MAIN; }

export function applySnapshot(s, snap) {
  const fresh = createState();
  Object.assign(s, fresh, {
    seq: snap.seq,
    ready: true,
    classInfo: snap.class,
    you: { ...snap.you },
    media: snap.media ?? fresh.media,
    locks: snap.locks ?? fresh.locks,
    qaModeration: Boolean(snap.qa?.moderation),
    recording: snap.recording ?? fresh.recording,
    speaker: snap.speaker ?? null,
    slides: slidesFromSnapshot(snap.slides),
  });
  for (const p of snap.participants ?? []) s.people.set(p.user_id, { ...p });
  for (const hand of snap.hands ?? []) s.hands.set(hand.user_id, hand.raised_at);
  s.chat = [...(snap.chat ?? [])];
  for (const poll of snap.polls ?? []) s.polls.set(poll.id, { ...poll });
  for (const q of snap.questions ?? []) s.questions.set(q.id, { ...q });
  setBreakouts(s, snap.breakouts);
  setTracks(s, snap.tracks ?? [], snap.seq);
  s.roomTracks.set(s.you.room, { seq: snap.seq, tracks: snap.tracks ?? [] });
}

function setBreakouts(s, b) {
  s.plan = b?.plan ?? null;
  s.help = b?.help ?? [];
  s.messages = b?.messages ?? [];
  s.breakouts = b && b.open ? { ...b } : null;
}

function setTracks(s, tracks, seq) {
  s.tracks = new Map(tracks.map((t) => [t.track_id, { ...t }]));
  for (const t of tracks) mark(s.muted, t.user_id, t.source, t.muted);
  s.tracksSeq = seq;
}

function mark(set, user, source, on) {
  const key = `${user}:${source}`;
  if (on) set.add(key); else set.delete(key);
}

export function isMuted(s, user, source) { return s.muted.has(`${user}:${source}`); }

// Apply one server message; returns false when it changed nothing.
export function apply(s, name, data) {
  const fn = REDUCERS[name];
  if (!fn) return false;
  return fn(s, data ?? {}) !== false;
}

function poll(s, id) { return s.polls.get(id); }

function movePerson(s, userId, room) {
  const p = s.people.get(userId);
  if (p) p.room = room;
  if (s.you?.user_id === userId && s.you.room !== room) {
    s.you.room = room;
    // Hands are per room: the new room's queue is unknown until it changes.
    s.hands.clear();
    const known = s.roomTracks.get(room);
    if (known) setTracks(s, known.tracks, known.seq);
    else setTracks(s, [], s.tracksSeq);
  }
}

const REDUCERS = {
  "participant:joined": (s, d) => {
    const p = d.participant ?? d;
    s.people.set(p.user_id, { ...s.people.get(p.user_id), ...p, hand: false });
    if (s.you?.user_id === p.user_id) Object.assign(s.you, { role: p.role, room: p.room });
  },
  "participant:left": (s, d) => {
    s.people.delete(d.user_id);
    s.hands.delete(d.user_id);
    for (const [id, t] of s.tracks) if (t.user_id === d.user_id) s.tracks.delete(id);
    if (s.speaker === d.user_id) s.speaker = null;
  },
  "participant:updated": (s, d) => {
    const p = s.people.get(d.user_id);
    if (d.role !== undefined) {
      if (p) p.role = d.role;
      if (s.you?.user_id === d.user_id) s.you.role = d.role;
    }
    if (d.room !== undefined) movePerson(s, d.user_id, d.room);
  },
  "hand:changed": (s, d) => {
    if (d.raised) s.hands.set(d.user_id, d.ts ?? Date.now());
    else s.hands.delete(d.user_id);
  },
  "chat:message": (s, d) => {
    s.chat.push(d);
    if (s.chat.length > CHAT_KEEP) s.chat.splice(0, s.chat.length - CHAT_KEEP);
  },
  reaction: (s, d) => { s.reactions.push({ ...d, at: Date.now() }); },
  "class:ended": (s) => { s.ended = true; },
  "class:locked": (s, d) => { s.locks = { ...s.locks, publish: d.publish }; },

  // -- polls
  "poll:created": (s, d) => { s.polls.set(d.poll.id, { ...d.poll }); },
  "poll:opened": (s, d) => {
    const known = poll(s, d.poll.id);
    s.polls.set(d.poll.id, { ...known, ...d.poll, results: known?.results });
  },
  "poll:results": (s, d) => {
    const p = poll(s, d.poll_id);
    if (!p || (p.resultsAsOf ?? -1) > d.as_of) return false;
    p.results = { counts: d.counts, total: d.total, voters: d.voters, words: d.words, mean: d.mean };
    p.resultsAsOf = d.as_of;
  },
  "poll:results_shown": (s, d) => {
    const p = poll(s, d.poll_id);
    if (!p) return false;
    p.results_shown = d.shown;
    if (d.results) { p.results = d.results; p.resultsAsOf = d.seq; }
  },
  "poll:closed": (s, d) => {
    const p = poll(s, d.poll_id);
    if (!p) return false;
    p.status = "closed";
    p.ends_at = null;
    if (d.results) { p.results = d.results; p.resultsAsOf = d.seq; }
  },
  "poll:published": (s, d) => {
    const p = poll(s, d.poll_id);
    if (!p) return false;
    p.status = "published";
    p.results = d.results;
    p.resultsAsOf = d.seq;
    if (d.correct) p.correct = d.correct;
  },
  "poll:feedback": (s, d) => {
    const p = poll(s, d.poll_id);
    if (!p) return false;
    p.yours = { ...p.yours, answer: d.answer, correct: d.correct };
  },

  // -- questions
  "qa:question": (s, d) => { s.questions.set(d.question.id, { ...d.question, voted: false }); },
  "qa:updated": (s, d) => {
    const known = s.questions.get(d.question.id);
    s.questions.set(d.question.id, { ...d.question, voted: known?.voted ?? false });
  },
  "qa:votes": (s, d) => {
    const q = s.questions.get(d.question_id);
    if (!q || (q.votesAsOf ?? -1) > d.as_of) return false;
    q.votes = d.votes;
    q.votesAsOf = d.as_of;
  },
  "qa:moderation": (s, d) => { s.qaModeration = d.on; },

  // -- breakout rooms
  "breakout:planned": (s, d) => { s.plan = d.plan; },
  "breakout:plan_discarded": (s) => { s.plan = null; },
  "breakout:opened": (s, d) => {
    const b = d.breakouts;
    s.breakouts = { open: true, ...b, rooms: b.rooms.map((r) => ({ ...r })), your_room: MAIN };
    s.plan = null;
    s.messages = [];
    s.help = [];
  },
  "breakout:assigned": (s, d) => {
    if (s.breakouts && (!d.user_id || d.user_id === s.you?.user_id)) s.breakouts.your_room = d.room_id;
  },
  "breakout:message": (s, d) => { s.messages.push(d); },
  "breakout:help_requested": (s, d) => {
    s.help = [...s.help.filter((x) => x.user_id !== d.user_id), d];
  },
  "breakout:extended": (s, d) => { if (s.breakouts) s.breakouts.ends_at = d.ends_at; },
  "breakout:warning": (s, d) => { if (s.breakouts) s.breakouts.warning = d.in_s; },
  "breakout:closing": (s, d) => { if (s.breakouts) s.breakouts.closes_at = d.closes_at; },
  "breakout:closed": (s) => { s.breakouts = null; s.help = []; },

  // -- media
  // The full list of a room's tracks; it may name the room we are moving to
  // just before our move arrives, so every room's latest list is kept.
  "rtc:tracks": (s, d) => {
    const room = d.room ?? myRoom(s);
    const known = s.roomTracks.get(room);
    if (known && typeof d.seq === "number" && d.seq < known.seq) return false;
    s.roomTracks.set(room, { seq: d.seq ?? -1, tracks: d.tracks ?? [] });
    if (room !== myRoom(s)) return false;
    setTracks(s, d.tracks ?? [], d.seq ?? s.tracksSeq);
  },
  "rtc:track_published": (s, d) => {
    if (d.room !== myRoom(s)) return false;
    s.tracks.set(d.track_id, { track_id: d.track_id, user_id: d.user_id, kind: d.kind, source: d.source, muted: d.muted });
    mark(s.muted, d.user_id, d.source, d.muted);
  },
  "rtc:track_unpublished": (s, d) => { s.tracks.delete(d.track_id); },
  "rtc:muted": (s, d) => {
    mark(s.muted, d.user_id, d.source, d.muted);
    for (const t of s.tracks.values()) if (t.user_id === d.user_id && t.source === d.source) t.muted = d.muted;
  },
  "rtc:speaker": (s, d) => { if (d.room === undefined || d.room === myRoom(s)) s.speaker = d.user_id; },
  "rtc:speaking": (s, d) => { s.speaker = d.user_id ?? null; },
  marker: (s, d) => { s.markers = [...(s.markers ?? []), d]; },
  "recording:marker": () => false,

  // -- recording
  "recording:state": (s, d) => { s.recording = { state: d.state, recording_id: d.recording_id ?? null }; },
};
Object.assign(REDUCERS, BOARD_REDUCERS);
REDUCERS["class:state"] = applySnapshot;

// Participants sorted for the list: raised hands first (in queue order), then
// hosts and moderators, then everyone else by name.
export function peopleInOrder(s) {
  const rank = (p) => (s.hands.has(p.user_id) ? 0 : isStaff(p.role) ? 1 : 2);
  return [...s.people.values()].sort((a, b) =>
    rank(a) - rank(b)
    || (s.hands.get(a.user_id) ?? 0) - (s.hands.get(b.user_id) ?? 0)
    || a.name.localeCompare(b.name));
}

export function roomName(s, roomId) {
  if (!roomId || roomId === MAIN) return "Main room";
  const rooms = s.breakouts?.rooms ?? s.plan?.rooms ?? [];
  return rooms.find((r) => r.id === roomId)?.name ?? "Breakout room";
}
