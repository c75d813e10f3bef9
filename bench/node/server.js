// A plain Node socket.io server, for comparison only (bench/node_compare.py): the
// same wire (msgpack parser, or JSON), the same join tokens, the same chat
// events as the classroom server, and nothing else: no journal, no roles, no
// rate limits, no presence broadcasts. socket.io's defaults are kept, among
// them perMessageDeflate: false, so a browser's offer of compression is
// refused. Never deploy it.
//
//   node bench/node/server.js --port 8091 --secret S --admin-key K [--wire json]

"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const jwt = require("jsonwebtoken");
const { Server } = require("socket.io");
const msgpackParser = require("socket.io-msgpack-parser");

const READY = "Node socket.io server on";

function options(argv) {
  const out = { port: 8091, secret: "", adminKey: "", wire: "msgpack" };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-(\w)/g, (_, c) => c.toUpperCase());
    out[key] = key === "port" ? Number(argv[i + 1]) : argv[i + 1];
  }
  return out;
}

const opts = options(process.argv.slice(2));
const newId = () => crypto.randomBytes(6).toString("hex");

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/api/classes") {
    res.writeHead(404).end();
    return;
  }
  req.resume();
  req.on("end", () => {
    if (req.headers.authorization !== `Bearer ${opts.adminKey}`) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(201, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ id: newId() }));
  });
});

const io = new Server(server, {
  parser: opts.wire === "msgpack" ? msgpackParser : undefined,
  maxHttpBufferSize: 64 * 1024,
});

io.use((socket, next) => {
  try {
    const token = socket.handshake.auth?.token;
    socket.data.claims = jwt.verify(token, opts.secret, { algorithms: ["HS256"] });
    next();
  } catch (err) {
    const refused = new Error("unauthorized");
    refused.data = { code: "unauthorized", message: String(err.message) };
    next(refused);
  }
});

let seq = 0;

io.on("connection", (socket) => {
  const { sub, name, cls } = socket.data.claims;
  socket.join(cls);
  socket.emit("class:state", { seq, class: { id: cls }, you: { user_id: sub, name } });
  socket.on("chat:send", (data, ack) => {
    if (typeof ack !== "function") return;
    const text = data?.text;
    if (typeof text !== "string" || !text || text.length > 2000) {
      ack({ ok: false, error: { code: "bad_request", message: "text is 1 to 2000 characters" } });
      return;
    }
    seq += 1;
    const message = { id: newId(), seq, ts: Date.now(), from: { user_id: sub, name }, text, room: "main" };
    io.to(cls).emit("chat:message", message);
    ack({ ok: true });
  });
});

server.listen(opts.port, "127.0.0.1", () => {
  console.log(`${READY} http://127.0.0.1:${opts.port}`);
});
