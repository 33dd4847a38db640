// The fan-out load generator: R rooms x M members, every message fanned out to the
// other members of its room, each carrying its send time and a unique id.
//
//   node loadgen.mjs plan.json  ->  one JSON object of results on stdout
//
// It is the same program for every target; a target differs only in its adapter
// (how to connect, join a room, send and recognise a message), chosen by the plan's
// `protocol`: "holdspace" (the default) or "socket.io" (the peers in bench/peers).
// It runs on its own core (the driver pins it) and reports its own CPU so a
// saturated run is flagged.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";
import WebSocket from "ws";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK = Buffer.from('"text":"b|');
// Each message's text: "b|<id>|<sent>|" then padding up to `body_chars` (100 by default;
// the server's limit is 2,000): the size of what members really write matters.
const PAD = "x".repeat(Math.max(0, (plan.body_chars ?? 100) - 32));

// -- Holdspace's protocol ------------------------------------------------------------

class HoldspaceClient {
  constructor(url, token, room, staff) {
    Object.assign(this, { url, token, room, staff });
    this.ids = 1;
    this.waiters = new Map();
    this.seq = 0;
    this.session = null;
    this.epoch = null;
    this.onMark = null; // (id, sentAt) for every benchmark message received
    this.errors = 0;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, { perMessageDeflate: false });
      this.ws = ws;
      ws.on("error", reject);
      ws.on("close", () => { this.closed = true; });
      ws.on("message", (data) => this.frame(data));
      this.hello = resolve;
      ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token: this.token })));
    });
  }

  frame(data) {
    const at = data.indexOf(MARK);
    if (at >= 0) {
      const start = at + MARK.length;
      const end = data.indexOf(34, start); // the closing quote
      const [id, sent] = data.toString("latin1", start, end).split("|");
      this.onMark?.(Number(id), Number(sent));
      this.trackSeq(data);
      return;
    }
    const text = data.toString();
    if (this.hello) {
      const resolve = this.hello;
      this.hello = null;
      resolve();
      return;
    }
    const frame = JSON.parse(text);
    if (frame.type === "snapshot" || frame.type === "resync") {
      this.session = frame.session.key;
      this.epoch = frame.epoch;
      this.seq = frame.seq;
    } else if (typeof frame.seq === "number" && frame.type !== "reply") {
      this.seq = Math.max(this.seq, frame.seq);
    }
    if (frame.type === "error") this.errors += 1;
    const waiter = frame.id != null && this.waiters.get(frame.id);
    if (waiter) {
      this.waiters.delete(frame.id);
      waiter(frame);
    }
  }

  trackSeq(data) {
    const at = data.indexOf('"seq":');
    if (at >= 0) {
      let n = 0;
      for (let i = at + 6; data[i] >= 48 && data[i] <= 57; i++) n = n * 10 + data[i] - 48;
      if (n > this.seq) this.seq = n;
    }
  }

  request(type, fields = {}) {
    const id = this.ids++;
    return new Promise((resolve) => {
      this.waiters.set(id, resolve);
      this.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }

  async join(resume = false) {
    const fields = { room: this.room };
    if (resume) fields.resume = { session: this.session, epoch: this.epoch, seq: this.seq };
    const answer = await this.request("join", fields);
    if (answer.type === "error") throw new Error(`join refused: ${answer.code} ${answer.message}`);
    if (!resume && !this.staff) {
      await this.request("agree");
      await this.request("set_mode", { mode: "sharer" });
    }
    return answer;
  }

  post(id) {
    this.ws.send(`{"type":"post","text":"b|${id}|${now()}|${PAD}"}`);
  }

  /** Stop reading: the socket's data stays in the kernel until it is full. */
  stall() {
    this.ws._socket.pause();
  }

  close() {
    this.ws.terminate();
  }
}

// -- socket.io's protocol (the peers: python-socketio and Node socket.io) ------------
//
//   join {room} (acknowledged), post {room, text}; the server sends message {text}
//   to the room's other members. No resume: a socket.io room has no history.

class SocketIOClient {
  constructor(url, token, room, staff) {
    Object.assign(this, { url, token, room, staff }); // the token is unused
    this.onMark = null; // (id, sentAt) for every benchmark message received
    this.errors = 0;
    this.closed = false;
    this.closing = false;
  }

  open() {
    return new Promise((resolve, reject) => {
      const socket = io(this.url, {
        transports: ["websocket"], // no long-polling first: a WebSocket, as for Holdspace
        perMessageDeflate: false, // as HoldspaceClient: nothing negotiated, nothing compressed
        forceNew: true, // a connection of its own per member, no shared Manager
        reconnection: false, // a dropped member is counted, not quietly replaced
      });
      this.socket = socket;
      socket.once("connect", resolve);
      socket.once("connect_error", (error) => {
        this.errors += 1;
        reject(error);
      });
      socket.on("disconnect", () => {
        this.closed = true;
        if (!this.closing) this.errors += 1;
      });
      socket.on("message", (message) => {
        const text = message.text;
        // "b|<id>|<sent>": two character codes decide, then one indexOf and two numbers.
        if (text.charCodeAt(0) !== 98 || text.charCodeAt(1) !== 124) return;
        const bar = text.indexOf("|", 2);
        this.onMark?.(Number(text.slice(2, bar)), Number(text.slice(bar + 1, text.indexOf("|", bar + 1))));
      });
    });
  }

  async join() {
    const answer = await this.socket.timeout(30000).emitWithAck("join", { room: this.room });
    if (!answer?.ok) throw new Error(`join refused: ${JSON.stringify(answer)}`);
    return answer;
  }

  post(id) {
    this.socket.emit("post", { room: this.room, text: `b|${id}|${now()}|${PAD}` });
  }

  close() {
    this.closing = true;
    this.socket.disconnect();
  }
}

const PROTOCOLS = { holdspace: HoldspaceClient, "socket.io": SocketIOClient };
const protocol = plan.protocol ?? "holdspace";
const Client = PROTOCOLS[protocol];
if (!Client) throw new Error(`unknown protocol: ${protocol}`);

// -- measuring ---------------------------------------------------------------------

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

// -- the run -----------------------------------------------------------------------

const clients = [];
const rooms = plan.rooms.map((room, r) => ({
  clients: room.members.map((token, m) => {
    const url = plan.urls[(r + m) % plan.urls.length]; // a room's members spread over workers
    const client = new Client(url, token, room.id, m === 0);
    clients.push(client);
    return client;
  }),
}));

const joinTimes = [];
const setupStarted = now();
// Facilitators first, so no room pauses itself for want of one.
for (const wave of [rooms.map((r) => r.clients[0]), rooms.flatMap((r) => r.clients.slice(1))]) {
  await inBatches(wave, 50, async (c) => {
    await c.open();
    const t = now();
    await c.join();
    joinTimes.push(now() - t);
  });
}
const setupSeconds = (now() - setupStarted) / 1000;

// Everyone is in: let the driver measure idle memory, then start when it says so.
if (plan.pause_after_setup) {
  process.stderr.write(`READY ${clients.length}\n`);
  await new Promise((resolve) => process.stdin.once("data", resolve));
}

// Members that stop reading (the last of each of the first `stalled` rooms): the
// kernel's buffers fill, then the server's queue for them; they send nothing more and
// nothing sent to them is counted. The rest show whether anyone else waits on them.
const stalled = new Set();
for (const room of rooms.slice(0, plan.stalled || 0)) {
  const member = room.clients[room.clients.length - 1];
  stalled.add(member);
  member.stall?.();
}
const receivers = (room) => room.clients.filter((c) => !stalled.has(c)).length - 1;

// Every message: who should get it, and what arrived.
let nextId = 0;
const expected = new Map(); // id -> remaining receivers
let latencies = [];
let delivered = 0;
for (const room of rooms) {
  for (const c of room.clients) {
    if (stalled.has(c)) continue;
    c.onMark = (id, sent) => {
      const left = expected.get(id);
      if (left === undefined) return;
      latencies.push(now() - sent);
      delivered += 1;
      if (left <= 1) expected.delete(id);
      else expected.set(id, left - 1);
    };
  }
}

async function step(rate, seconds) {
  // rate: deliveries per second; each message reaches (members - 1) others.
  const fanout = rooms[0].clients.length - 1;
  const perSecond = rate / fanout;
  latencies = [];
  delivered = 0;
  const cpu = process.cpuUsage();
  const started = now();
  let sent = 0;
  let turn = 0;
  // Paced, not in bursts: each message has its own moment (sent / perSecond) and goes at
  // it; the loop sleeps until the next one is due, so at most a timer's granularity
  // (about 1 ms) of messages ever go together.
  const gap = 1000 / perSecond;
  while (now() - started < seconds * 1000) {
    const due = Math.floor(((now() - started) / 1000) * perSecond) + 1;
    while (sent < due) {
      const room = rooms[turn % rooms.length];
      const sender = room.clients[Math.floor(turn / rooms.length) % room.clients.length];
      turn += 1;
      if (sender.closed || stalled.has(sender)) continue;
      const id = nextId++;
      expected.set(id, receivers(room));
      sender.post(id);
      sent += 1;
    }
    await sleep(Math.max(0, started + sent * gap - now()));
  }
  const sendSeconds = (now() - started) / 1000;
  const drainUntil = now() + 2000;
  while (expected.size && now() < drainUntil) await sleep(10);
  const used = process.cpuUsage(cpu);
  let lost = 0;
  for (const left of expected.values()) lost += left;
  expected.clear();
  const lat = summary(latencies);
  return {
    rate,
    seconds: Number(sendSeconds.toFixed(2)),
    messages: sent,
    deliveries: delivered,
    lost,
    achieved: Math.round(delivered / sendSeconds),
    p50_ms: lat.p50,
    p99_ms: lat.p99,
    max_ms: lat.max,
    loadgen_cpu: Number(((used.user + used.system) / 1e6 / ((now() - started) / 1000)).toFixed(2)),
  };
}

const steps = [];
// A step fails on any loss or a p99 over the limit. One p99 over a few seconds is a
// noisy figure, so a failed rate is tried once more before the ramp stops there;
// both tries are reported.
const failed = (r) => r.lost > 0 || r.p99_ms > plan.stop_p99_ms;
for (const { rate, seconds } of plan.steps) {
  let result = await step(rate, seconds);
  steps.push(result);
  process.stderr.write(`${JSON.stringify(result)}\n`);
  if (plan.stop_p99_ms && failed(result)) {
    result = await step(rate, seconds);
    result.retry = true;
    steps.push(result);
    process.stderr.write(`${JSON.stringify(result)}\n`);
    if (failed(result)) break;
  }
}

// Resume: a member misses `missed` events, then comes back and resumes by seq
// (Holdspace only: socket.io has nothing to resume).
const resumes = [];
if (plan.resume && protocol === "holdspace") {
  const room = rooms[0];
  const facilitator = room.clients[0];
  for (let trial = 0; trial < plan.resume.trials; trial++) {
    const member = room.clients[1];
    await sleep(50);
    member.close();
    while (!member.closed) await sleep(1);
    for (let i = 0; i < plan.resume.missed; i++) facilitator.post(-1);
    // Wait until another member has them all: they are in the log.
    const witness = room.clients[2];
    const target = facilitator.seq + plan.resume.missed;
    while (witness.seq < target) await sleep(2);
    const fresh = new HoldspaceClient(member.url, member.token, member.room, false);
    Object.assign(fresh, { session: member.session, epoch: member.epoch, seq: member.seq });
    await fresh.open();
    const t = now();
    const answer = await fresh.join(true);
    resumes.push(now() - t);
    if (!answer.resumed) throw new Error(`expected a resume, got ${answer.type}`);
    room.clients[1] = fresh;
    fresh.onMark = member.onMark;
  }
}

const errors = clients.reduce((n, c) => n + c.errors, 0);
console.log(JSON.stringify({
  connections: clients.length,
  setup_seconds: Number(setupSeconds.toFixed(1)),
  join_ms: summary(joinTimes),
  steps,
  resume_ms: summary(resumes),
  errors,
}));
for (const c of clients) c.close();
process.exit(0);
