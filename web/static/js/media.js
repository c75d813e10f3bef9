// WebRTC with the server's SFU: two peer connections per participant.
//   pub: we offer what we send (rtc:publish, answered in the ack), naming the
//        source of each m-line (camera, mic, screen);
//   sub: the server offers what we receive (rtc:offer, with a mid -> track
//        id map) and we answer (rtc:answer).
// The camera goes out twice: in full, and as a low layer (about 320x180 at
// 15 fps, an m-line of its own) for others' small tiles. We say which video
// we show and at which layer (rtc:view, from js/video.js), or audio only;
// the server forwards that and every sound of our room.
// Our ICE candidates trickle with rtc:candidate once the server holds the
// description they belong to. In a mesh class (js/mesh.js) we connect to each
// other person in the room instead.

import { Mesh } from "./mesh.js";
import { Quality } from "./quality.js";
import { isMuted, myRoom } from "./state.js";

const LOW_LAYER = { height: 180, fps: 15, bitrate: 150_000 };

export class Media {
  constructor({ send, changed, notice }) {
    this.send = send;
    this.changed = changed;     // the set of playable tracks or our own state changed
    this.notice = notice;       // a message for the person (not fatal)
    this.local = null;          // MediaStream from the camera and microphone
    this.screen = null;         // MediaStream from getDisplayMedia
    this.mic = true;            // what the person wants: mic on / camera on
    this.cam = true;
    this.iceServers = [];
    this.mayPublish = true;     // false while the host's publish lock holds us
    this.pub = null;
    this.sub = null;
    this.mids = {};             // sub mid -> track id
    this.sources = new Map();   // pub transceiver -> source
    this.lows = new Set();      // pub transceivers that send a low layer
    this.lowCam = null;         // the camera track's clone the low layer sends
    this.audioOnly = false;     // the person chose to receive no video
    this.poorConnection = null; // called when the video we receive keeps arriving badly
    this.quality = new Quality(() => this.sub, () => this.poorConnection?.());
    this._view = { wanted: null, sent: null, busy: false };
    this.published = false;
    this.mesh = null;
    this.offers = 0;            // sub offers received (for diagnostics)
    this._generation = 0;
    this._pubChain = Promise.resolve();
    this._subChain = Promise.resolve();
    this._started = null;
    this._startedResolve = null;
    this._resetStarted();
  }

  // Offers wait for start() (the snapshot brings the ICE servers); a restart
  // keeps the promise that queued offers are already waiting on.
  _resetStarted() {
    if (this._started && !this._isStarted) return;
    this._isStarted = false;
    this._started = new Promise((resolve) => { this._startedResolve = resolve; });
  }

  // -- local devices -------------------------------------------------------

  async acquire({ audioId, videoId } = {}) {
    const constraints = {
      audio: audioId === "none" ? false : (audioId ? { deviceId: { exact: audioId } } : true),
      video: videoId === "none" ? false : {
        ...(videoId ? { deviceId: { exact: videoId } } : {}),
        width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 },
      },
    };
    this.releaseLocal();
    if (!constraints.audio && !constraints.video) return null;
    this.local = await navigator.mediaDevices.getUserMedia(constraints);
    this._applyIntent();
    return this.local;
  }

  releaseLocal() {
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this._dropLowCam();
  }

  _dropLowCam() {
    this.lowCam?.stop();
    this.lowCam = null;
  }

  static async devices() {
    const all = await navigator.mediaDevices.enumerateDevices();
    return { audio: all.filter((d) => d.kind === "audioinput"), video: all.filter((d) => d.kind === "videoinput") };
  }

  track(kind) { return this.local?.getTracks().find((t) => t.kind === kind) ?? null; }

  _applyIntent() {
    const mic = this.track("audio");
    const cam = this.track("video");
    if (mic) mic.enabled = this.mic;
    if (cam) cam.enabled = this.cam;
    if (this.lowCam) this.lowCam.enabled = this.cam;
  }

  // -- session ----------------------------------------------------------------

  // Called on every (re)join: the server starts our media afresh each time.
  // Offers that arrived before it (they may precede the snapshot) are kept.
  async start(iceServers, { mode = "sfu", me = "" } = {}) {
    if (this.pub || this.sub || this.mesh) this.stop();
    this.iceServers = iceServers ?? [];
    if (mode === "mesh") {
      this.mesh = new Mesh(this, me, this.iceServers);
      this.mesh.sending = this.mayPublish;
    }
    this._isStarted = true;
    this._startedResolve();
    if (!this.local && !this.screen) return;
    if (!this.mic) await this.send("rtc:mute", { source: "mic", muted: true });
    if (!this.cam) await this.send("rtc:mute", { source: "camera", muted: true });
    if (this.mesh) {
      this.published = true;
      return;
    }
    this.pub = this._newPc("pub");
    for (const track of this.local?.getTracks() ?? []) {
      const t = this.pub.addTransceiver(track, { direction: "sendonly", streams: [this.local] });
      this.sources.set(t, track.kind === "audio" ? "mic" : "camera");
    }
    this._addLowLayer();
    const screen = this.screen?.getVideoTracks()[0];
    if (screen) this._addScreen(screen);
    await this.negotiate();
  }

  // The camera's low layer: a clone of its track, scaled down by the encoder.
  // aiortc negotiates no simulcast, so it is a second m-line that rtc:publish
  // names a layer of the camera.
  _addLowLayer() {
    const cam = this.track("video");
    if (!cam) return;
    this._dropLowCam();
    this.lowCam = cam.clone();
    this.lowCam.enabled = this.cam;
    const height = cam.getSettings().height || LOW_LAYER.height;
    const t = this.pub.addTransceiver(this.lowCam, {
      direction: "sendonly",
      streams: [this.local],
      sendEncodings: [{
        scaleResolutionDownBy: Math.max(1, height / LOW_LAYER.height),
        maxFramerate: LOW_LAYER.fps,
        maxBitrate: LOW_LAYER.bitrate,
      }],
    });
    this.sources.set(t, "camera");
    this.lows.add(t);
  }

  stop() {
    this._generation += 1;
    this.pub?.close();
    this.sub?.close();
    this.mesh?.close();
    this.quality.stop();
    this._dropLowCam();
    this.pub = this.sub = this.mesh = null;
    this.mids = {};
    this.sources = new Map();
    this.lows = new Set();
    this._view = { wanted: null, sent: null, busy: false };
    this.published = false;
    this._resetStarted();
    this.changed();
  }

  _newPc(which) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    pc.pendingCandidates = [];
    pc.remoteReady = false;
    pc.onicecandidate = (ev) => {
      const candidate = ev.candidate ? ev.candidate.toJSON() : null;
      if (!pc.remoteReady) pc.pendingCandidates.push(candidate);
      else this._trickle(which, candidate);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" && (pc === this.pub || pc === this.sub)) this.failed?.(which);
      this.changed();
    };
    return pc;
  }

  _trickle(which, candidate) {
    const payload = { pc: which };
    if (candidate) {
      payload.candidate = { candidate: candidate.candidate };
      if (candidate.sdpMid != null) payload.candidate.sdpMid = candidate.sdpMid;
      if (candidate.sdpMLineIndex != null) payload.candidate.sdpMLineIndex = candidate.sdpMLineIndex;
      if (candidate.usernameFragment) payload.candidate.usernameFragment = candidate.usernameFragment;
    }
    // A refused candidate is harmless: the server also learns our address from ICE checks.
    this.send("rtc:candidate", payload);
  }

  _flushCandidates(pc, which) {
    pc.remoteReady = true;
    for (const c of pc.pendingCandidates.splice(0)) this._trickle(which, c);
  }

  // (Re)negotiate the pub connection; calls are queued one after another.
  negotiate() {
    this._pubChain = this._pubChain.then(() => this._negotiate()).catch((err) => {
      this.notice(`Could not send your audio and video: ${err.message ?? err}`);
    });
    return this._pubChain;
  }

  async _negotiate() {
    const pc = this.pub;
    if (!pc || pc.signalingState === "closed") return;
    await pc.setLocalDescription(await pc.createOffer());
    const sources = {};
    const layers = {};
    for (const [t, source] of this.sources) if (t.mid != null) sources[t.mid] = source;
    for (const t of this.lows) if (t.mid != null) layers[t.mid] = "low";
    const ack = await this.send("rtc:publish", { sdp: pc.localDescription.sdp, type: "offer", sources, layers });
    if (pc !== this.pub) return;
    if (!ack.ok) {
      await pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      if (ack.error?.code === "forbidden") this.notice("The host has not allowed participants to share audio or video right now.");
      else this.notice(`Could not send your audio and video: ${ack.error?.message ?? "refused"}`);
      return;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    this._flushCandidates(pc, "pub");
    this.published = true;
    this.changed();
  }

  // The server's offer for the sub connection (whenever our track set changes).
  onOffer(offer) {
    this.offers += 1;
    const generation = this._generation;
    this._subChain = this._subChain.then(() => this._answer(offer, generation)).catch((err) => {
      this.notice(`Could not receive the others' audio and video: ${err.message ?? err}`);
    });
  }

  async _answer(offer, generation) {
    await this._started;
    if (generation !== this._generation) return; // an offer for a connection we no longer have
    if (offer.renew && this.sub) {
      // The server lost our sub connection (a media worker restarted): start a new one.
      this.sub.close();
      this.sub = null;
      this.mids = {};
    }
    if (!this.sub) {
      this.sub = this._newPc("sub");
      this.sub.ontrack = () => this.changed();
      this.quality.start();
    }
    const pc = this.sub;
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    const ack = await this.send("rtc:answer", { sdp: pc.localDescription.sdp, type: "answer" });
    if (pc !== this.sub) return;
    this.mids = { ...(offer.mids ?? {}) };
    if (ack.ok) this._flushCandidates(pc, "sub");
    this.changed();
  }

  // A mesh peer's signal (it may come before our snapshot, like an offer).
  onSignal(data) {
    const generation = this._generation;
    this._subChain = this._subChain.then(async () => {
      await this._started;
      if (generation === this._generation && this.mesh) await this.mesh.onSignal(data.from, data.data);
    });
  }

  // The host's publish lock, as it applies to us. The SFU enforces it itself
  // (it closes our pub connection); mesh peers must stop sending by themselves.
  setMayPublish(allowed) {
    this.mayPublish = allowed;
    this.mesh?.setSending(allowed);
  }

  // Mesh: connect to these people (the others in our room); a rejoined one afresh.
  syncPeers(userIds) { this.mesh?.sync(userIds); }
  peerRejoined(userId) { this.mesh?.restart(userId); }

  // -- what to show -----------------------------------------------------------

  // The video the stage shows, [{track_id, layer}]: sent as rtc:view when it
  // (or audio only) changes, one request at a time, the latest winning.
  setView(tracks) {
    if (this.mesh || !this._isStarted) return;
    this._view.wanted = JSON.stringify({ tracks, audio_only: this.audioOnly });
    this._sendView();
  }

  async _sendView() {
    const view = this._view;
    if (view.busy || view.wanted === view.sent) return;
    view.busy = true;
    const body = view.wanted;
    // A refused view (a track that just ended) is not sent again as it was:
    // the track list that follows changes the view anyway.
    const ack = await this.send("rtc:view", JSON.parse(body));
    view.sent = body;
    view.busy = false;
    if (ack.error?.code === "rate_limited") {
      setTimeout(() => { if (view.sent === body) view.sent = null; this._sendView(); }, 1000);
    }
    if (view === this._view) this._sendView();
  }

  setAudioOnly(on) {
    this.audioOnly = on;
    this.changed();
  }

  // The id of the video track that brings `source` of `userId` (shown or not).
  videoTrackId(s, userId, source) {
    if (this.mesh) return null;
    return [...s.tracks.values()].find((x) => x.user_id === userId && x.source === source
      && x.kind === "video")?.track_id ?? null;
  }

  // The track that brings us `source` ("camera", "screen", "mic") of `userId`.
  trackOf(s, userId, source) {
    if (this.mesh) return isMuted(s, userId, source) ? null : this.mesh.track(userId, source);
    const t = [...s.tracks.values()].find((x) => x.user_id === userId && x.source === source
      && x.kind === (source === "mic" ? "audio" : "video"));
    return t && !t.muted ? this.remote(t.track_id) : null;
  }

  // Whether `userId` sends `source` at all (muted or not).
  sends(s, userId, source) {
    if (this.mesh) return Boolean(this.mesh.track(userId, source)) || isMuted(s, userId, source);
    return [...s.tracks.values()].some((x) => x.user_id === userId && x.source === source);
  }

  // [{key, track}] of every remote sound to play: our room's microphones and screen audio.
  audible(s) {
    const room = myRoom(s);
    const me = s.you?.user_id;
    if (this.mesh) {
      return [...this.mesh.peers.keys()].map((id) => ({ key: id, track: this.mesh.track(id, "mic") }));
    }
    return [...s.tracks.values()]
      .filter((t) => t.kind === "audio" && t.user_id !== me && s.people.get(t.user_id)?.room === room)
      .map((t) => ({ key: t.track_id, track: this.remote(t.track_id) }));
  }

  // The connections we receive on (for diagnostics and tests).
  receiving() { return this.mesh ? this.mesh.connections() : [this.sub].filter(Boolean); }

  // The MediaStreamTrack that carries a published track to us, if we receive it.
  remote(trackId) {
    if (!this.sub) return null;
    const mid = Object.keys(this.mids).find((m) => this.mids[m] === trackId);
    if (mid === undefined) return null;
    const t = this.sub.getTransceivers().find((x) => x.mid === mid);
    return t?.receiver.track ?? null;
  }

  // -- controls ------------------------------------------------------------

  async setMic(on) {
    const ack = await this.send("rtc:mute", { source: "mic", muted: !on });
    if (!ack.ok && this.published) return ack;
    this.mic = on;
    this._applyIntent();
    this.changed();
    return { ok: true };
  }

  async setCam(on) {
    const ack = await this.send("rtc:mute", { source: "camera", muted: !on });
    if (!ack.ok && this.published) return ack;
    this.cam = on;
    this._applyIntent();
    this.changed();
    return { ok: true };
  }

  // Someone with the right to do so muted us: follow suit locally.
  mutedBy(source) {
    if (source === "mic") this.mic = false;
    if (source === "camera") this.cam = false;
    this._applyIntent();
    this.changed();
  }

  async shareScreen() {
    if (this.screen) return;
    this.screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const track = this.screen.getVideoTracks()[0];
    track.addEventListener("ended", () => this.stopScreen());
    if (this.mesh) {
      this.mesh.addTrack(track, this.screen);
      this.changed();
      return;
    }
    if (!this.pub) this.pub = this._newPc("pub");
    this._addScreen(track);
    this.changed();
    await this.negotiate();
  }

  _addScreen(track) {
    const known = [...this.sources].find(([, source]) => source === "screen")?.[0];
    if (known && known.currentDirection !== "stopped") {
      known.direction = "sendonly";
      known.sender.replaceTrack(track);
      return;
    }
    const t = this.pub.addTransceiver(track, { direction: "sendonly", streams: [this.screen] });
    this.sources.set(t, "screen");
  }

  async stopScreen() {
    if (!this.screen) return;
    for (const t of this.screen.getTracks()) this.mesh?.removeTrack(t);
    for (const t of this.screen.getTracks()) t.stop();
    this.screen = null;
    const t = [...this.sources].find(([, source]) => source === "screen")?.[0];
    if (t) {
      await t.sender.replaceTrack(null);
      t.direction = "inactive";
      await this.negotiate();
    }
    this.changed();
  }

  leave() {
    this.stop();
    this.releaseLocal();
    for (const t of this.screen?.getTracks() ?? []) t.stop();
    this.screen = null;
  }
}
