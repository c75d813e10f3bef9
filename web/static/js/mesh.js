// Mesh media (classes created with media: "mesh", for small groups): one
// RTCPeerConnection per other person in the room, signalled through the
// server's rtc:signal relay with the "perfect negotiation" pattern (the peer
// with the greater user id is the polite one and yields on collisions).
// To keep the first negotiation free of collisions, the impolite peer opens
// the connection and the polite one creates its side on the first signal.
// Signals: {description, sources} or {candidate}; `sources` maps our stream
// ids to "camera" (camera and microphone) or "screen".
// While the host's publish lock holds us (`sending` false) we add no tracks
// and name no sources: the server refuses signals that would send media.

export class Mesh {
  constructor(media, me, iceServers) {
    this.media = media;
    this.me = me;
    this.iceServers = iceServers;
    this.peers = new Map();
    this.closed = false;
    this.sending = true;
  }

  // The publish lock changed for us: stop sending to everyone, or start again.
  setSending(allowed) {
    if (allowed === this.sending) return;
    this.sending = allowed;
    for (const p of this.peers.values()) {
      if (allowed) this.addLocal(p.pc);
      else for (const sender of p.pc.getSenders()) if (sender.track) p.pc.removeTrack(sender);
    }
    this.media.changed();
  }

  addLocal(pc) {
    if (!this.sending) return;
    for (const track of this.media.local?.getTracks() ?? []) pc.addTrack(track, this.media.local);
    for (const track of this.media.screen?.getTracks() ?? []) pc.addTrack(track, this.media.screen);
  }

  // Connect to exactly these people (everyone else in our room).
  sync(userIds) {
    const wanted = new Set(userIds);
    for (const id of this.peers.keys()) if (!wanted.has(id)) this.drop(id);
    for (const id of wanted) if (this.opens(id)) this.peer(id);
  }

  opens(userId) { return this.me < userId; }

  // A peer that (re)joined starts afresh on their side: so do we.
  restart(userId) {
    if (this.peers.has(userId)) {
      this.drop(userId);
      if (this.opens(userId)) this.peer(userId);
    }
  }

  drop(userId) {
    const p = this.peers.get(userId);
    if (!p) return;
    p.pc.close();
    this.peers.delete(userId);
    this.media.changed();
  }

  close() {
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.drop(id);
  }

  signal(to, data) { return this.media.send("rtc:signal", { to, data }); }

  sources() {
    const out = {};
    if (!this.sending) return out;
    if (this.media.local) out[this.media.local.id] = "camera";
    if (this.media.screen) out[this.media.screen.id] = "screen";
    return out;
  }

  peer(userId) {
    let p = this.peers.get(userId);
    if (p || this.closed) return p;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    p = { pc, polite: !this.opens(userId), makingOffer: false, ignoreOffer: false, sources: {}, received: [] };
    this.peers.set(userId, p);
    this.addLocal(pc);
    pc.onnegotiationneeded = async () => {
      try {
        p.makingOffer = true;
        await pc.setLocalDescription();
        await this.signal(userId, { description: plain(pc.localDescription), sources: this.sources() });
      } catch (err) {
        this.media.notice(`Could not connect to a participant: ${err.message ?? err}`);
      } finally {
        p.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.signal(userId, { candidate: candidate.toJSON() });
    };
    pc.ontrack = ({ track, streams }) => {
      p.received.push({ track, stream: streams[0]?.id ?? "" });
      track.addEventListener("mute", () => this.media.changed());
      track.addEventListener("unmute", () => this.media.changed());
      track.addEventListener("ended", () => this.media.changed());
      this.media.changed();
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" && this.peers.get(userId)?.pc === pc) this.media.failed?.("mesh");
      this.media.changed();
    };
    return p;
  }

  async onSignal(from, data) {
    const p = this.peer(from);
    if (!p) return;
    const { pc } = p;
    if (data.sources) p.sources = data.sources;
    try {
      if (data.description) {
        const offer = data.description.type === "offer";
        const collision = offer && (p.makingOffer || pc.signalingState !== "stable");
        p.ignoreOffer = !p.polite && collision;
        if (p.ignoreOffer) return;
        await pc.setRemoteDescription(data.description);
        if (offer) {
          await pc.setLocalDescription();
          await this.signal(from, { description: plain(pc.localDescription), sources: this.sources() });
        }
        this.media.changed();
      } else if (data.candidate) {
        try {
          await pc.addIceCandidate(data.candidate);
        } catch (err) {
          if (!p.ignoreOffer) throw err;
        }
      }
    } catch (err) {
      this.media.notice(`Connection to a participant failed: ${err.message ?? err}`);
    }
  }

  // The live track of `source` ("camera", "mic", "screen") from `userId`, if any.
  track(userId, source) {
    const p = this.peers.get(userId);
    if (!p) return null;
    const kind = source === "mic" ? "audio" : "video";
    const from = source === "screen" ? "screen" : "camera";
    const found = p.received.find((r) => r.track.kind === kind && p.sources[r.stream] === from
      && r.track.readyState === "live" && !r.track.muted);
    return found?.track ?? null;
  }

  // Every other pc's sending tracks follow ours: add or remove the screen.
  addTrack(track, stream) {
    if (!this.sending) return;
    for (const p of this.peers.values()) p.pc.addTrack(track, stream);
  }

  removeTrack(track) {
    for (const p of this.peers.values()) {
      const sender = p.pc.getSenders().find((s) => s.track === track);
      if (sender) p.pc.removeTrack(sender);
    }
  }

  connections() { return [...this.peers.values()].map((p) => p.pc); }
}

function plain(description) {
  return { type: description.type, sdp: description.sdp };
}
