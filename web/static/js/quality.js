// How well the video we receive arrives, from the sub connection's getStats().
// Every SAMPLE_MS the page adds up its inbound video streams; a sample is poor
// when at least LOSS of the video packets expected in it were lost, when the
// video stood frozen for FROZEN of its time (the browser's
// totalFreezesDuration: what a receive rate too low for the picture looks
// like), or when not one frame was decoded while a camera is shown (the
// rate fell to nothing). POOR_SAMPLES poor samples in a row (six seconds) and the
// page offers audio only; declined, it asks again after QUIET_MS at the
// earliest.

export const SAMPLE_MS = 2000;
export const LOSS = 0.1;
export const FROZEN = 0.25;
export const POOR_SAMPLES = 3;
export const QUIET_MS = 120_000;
const MIN_PACKETS = 30; // fewer expected in a sample says nothing either way

// The totals of a stats report's inbound video streams.
export function totals(report, at) {
  const out = { at, lost: 0, received: 0, frozen: 0, frames: 0 };
  report.forEach((r) => {
    if (r.type !== "inbound-rtp" || r.kind !== "video") return;
    out.lost += Math.max(0, r.packetsLost ?? 0);
    out.received += r.packetsReceived ?? 0;
    out.frozen += r.totalFreezesDuration ?? 0;
    out.frames += r.framesDecoded ?? 0;
  });
  return out;
}

// One sample, from two totals: {loss, frozen, stalled, poor}. `showing`: some
// video is shown (on screen, not muted), so frames should come.
export function judge(before, after, showing) {
  const lost = Math.max(0, after.lost - before.lost);
  const expected = lost + Math.max(0, after.received - before.received);
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const loss = expected >= MIN_PACKETS ? lost / expected : 0;
  const frozen = Math.max(0, after.frozen - before.frozen) / seconds;
  const stalled = showing && after.frames <= before.frames;
  return { loss, frozen, stalled, poor: loss >= LOSS || frozen >= FROZEN || stalled };
}

export class Quality {
  // `connection()`: the sub connection now (or null); `poor()`: offer audio only.
  constructor(connection, poor) {
    this.connection = connection;
    this.poor = poor;
    this.last = null;
    this.streak = 0;
    this.quietUntil = 0;
    this.timer = null;
    this.showing = false; // set by the stage: a camera is on screen, not muted
  }

  start() {
    if (this.timer === null) this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.last = null;
    this.streak = 0;
  }

  // The person said no: leave them be for a while.
  decline() {
    this.quietUntil = Date.now() + QUIET_MS;
    this.streak = 0;
  }

  async sample() {
    const pc = this.connection();
    if (!pc || pc.connectionState === "closed") {
      this.last = null;
      return;
    }
    const now = totals(await pc.getStats(), performance.now());
    if (this.last) {
      this.streak = judge(this.last, now, this.showing).poor ? this.streak + 1 : 0;
      if (this.streak >= POOR_SAMPLES && Date.now() >= this.quietUntil) {
        this.streak = 0;
        this.poor();
      }
    }
    this.last = now;
  }
}
