// The Socket.IO connection: the official client (vendored), the join token in
// `auth`, automatic reconnects that resume from the last seq held, and
// de-duplication of journal events (a snapshot may already hold the effect of
// an event delivered just after it).

import { DERIVED } from "./state.js";

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(el);
  });
}

// Fetch the server's wire format and load the matching client build.
export async function loadClient() {
  const info = await (await fetch("/api/info")).json();
  await loadScript(info.wire === "msgpack" ? "/static/vendor/socket.io.msgpack.min.js"
                                           : "/static/vendor/socket.io.min.js");
  return info;
}

// The claims of a JWT, read without checking (the server checks); null if unreadable.
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

export const MESSAGES = {
  expired: "Your join link has expired. Ask your teacher for a new link.",
  unauthorized: "This join link is not valid for this class. Ask your teacher for a new link.",
  ended: "This class has ended. Thank you for joining.",
  replaced: "You joined this class from another window or device, so this one was disconnected.",
  lost: "Connection lost. Reconnecting…",
  full: "This class is full. Try again later.",
  rate_limited: "Many people are connecting. Trying again in a moment…",
};

// handlers: {event(name, data), status(text, kind), fatal(code, text), connected(), disconnected()}
export function connect({ token, classId, state, handlers }) {
  const socket = io({
    transports: ["websocket"],
    query: { class: classId },
    auth: (cb) => cb(state.ready && state.seq
      ? { token, class_id: classId, last_seq: state.seq }
      : { token, class_id: classId }),
  });
  let stopped = false;
  let retryMs = 1000;
  const stop = (code, text) => {
    if (stopped) return;
    stopped = true;
    socket.disconnect();
    handlers.fatal(code, text);
  };

  socket.on("connect_error", (err) => {
    const data = err.data ?? {};
    if (data.code === "moved" && data.url) {
      stopped = true;
      socket.disconnect();
      location.assign(`${data.url.replace(/\/$/, "")}/c/${encodeURIComponent(classId)}#token=${token}`);
    } else if (data.code === "unauthorized") {
      stop("unauthorized", /expired/i.test(data.message ?? "") ? MESSAGES.expired : MESSAGES.unauthorized);
    } else if (data.code === "ended") {
      stop("ended", MESSAGES.ended);
    } else {
      handlers.status(MESSAGES[data.code] ?? MESSAGES.lost, "warn");
      // A refusal by the server ("full", "rate_limited", "unavailable") ends the
      // client's own retries; a transport failure does not. Try again, less and
      // less often, and not before the server said to.
      if (!socket.active) {
        const wait = Math.max(retryMs, 1000 * (data.retry_s ?? 0));
        setTimeout(() => { if (!stopped) socket.connect(); }, wait);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    }
  });
  socket.on("connect", () => { retryMs = 1000; handlers.connected?.(); });
  socket.on("disconnect", (reason) => {
    if (stopped) return;
    handlers.disconnected?.(reason);
    if (reason === "io server disconnect") {
      // The server closed us without saying why (e.g. it is shutting down): try again.
      handlers.status(MESSAGES.lost, "warn");
      socket.connect();
    } else handlers.status(MESSAGES.lost, "warn");
  });
  socket.on("session:replaced", () => stop("replaced", MESSAGES.replaced));
  socket.on("class:ended", (data) => {
    if (fresh(state, "class:ended", data)) handlers.event("class:ended", data);
    stop("ended", MESSAGES.ended);
  });
  socket.onAny((name, data) => {
    if (name === "class:ended" || name === "session:replaced") return;
    // Consecutive events the server sent as one message (a crowd joining): in order.
    const events = name === "class:batch" ? data?.events ?? [] : [[name, data]];
    for (const [n, d] of events) if (fresh(state, n, d)) handlers.event(n, d);
  });

  return {
    socket,
    // Emit with an ack; resolves to the ack ({ok, ...} or {ok: false, error}).
    send(event, data = {}, timeoutMs = 10000) {
      return new Promise((resolve) => {
        if (!socket.connected) {
          resolve({ ok: false, error: { code: "offline", message: "not connected; try again in a moment" } });
          return;
        }
        socket.timeout(timeoutMs).emit(event, data, (err, ack) => {
          resolve(err ? { ok: false, error: { code: "timeout", message: "no reply from the server" } }
                      : ack ?? { ok: false, error: { code: "internal", message: "empty reply" } });
        });
      });
    },
    close() { stopped = true; socket.disconnect(); },
  };
}

// Journal events carry seq; anything at or below what we hold is a duplicate.
export function fresh(state, name, data) {
  if (DERIVED.has(name) || typeof data?.seq !== "number") return true;
  if (!state.ready || data.seq <= state.seq) return false;
  state.seq = data.seq;
  return true;
}
