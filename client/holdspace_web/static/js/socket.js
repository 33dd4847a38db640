// One room connection: join, commands with answers, room events in order exactly
// once, and reconnecting by itself — resuming from the last `seq` it processed.
import { refusal, strings } from "./strings.js";

const NOTICES = new Set([
  "whisper", "arrival", "arrival_left", "admitted", "declined", "removed", "session_over",
  "turn_outcome", "session_summary", "post_state", "signed_out",
]);
// Closes after which trying again can't help: done, signed out, and opened elsewhere
// (4010: this account opened more sockets than the server keeps, and this was the oldest —
// coming back by ourselves would close another tab's, and that one would do the same).
// (A handshake the server refuses — a foreign Origin, HTTP 403; too many from this
// network, 429 — reaches a page only as 1006, like a lost network: see `lost`.)
const FINAL = new Set([1000, 4001, 4010]);
const REFUSALS_BEFORE_ASKING = 3; // failed opens in a row before asking whether we're signed out
const RETRIES = 5; // sends of one command whose outcome stays unknown, at most
const RETRY_WAIT_MS = 30000; // how long a command waits for the room to be joined again

/** A command's `error` answer: `message` in this app's words for its code where it has
 * them (strings.js), `said` the server's own. */
export class CommandRefused extends Error {
  constructor(frame) {
    const detail = frame.detail || {};
    super(refusal(frame.code, detail, frame.message));
    this.code = frame.code;
    this.detail = detail;
    this.said = frame.message;
  }
}

export class RoomSocket extends EventTarget {
  constructor(roomId) {
    super();
    this.roomId = roomId;
    this.session = null;
    this.epoch = null;
    this.seq = 0;
    this.ws = null;
    this.ready = false; // joined, and answering commands
    this.closed = false;
    this.nextId = 1;
    // Client ids for commands, unique to this page: see `send`.
    this.cidPrefix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    this.nextCid = 1;
    this.pending = new Map();
    this.backoff = 500;
    this.retryTimer = null;
    // The device says it lost the network: let the socket go now and say so, rather
    // than wait for a dead connection to time out; come back as soon as it's online.
    this.onOnline = () => this.retryNow();
    this.onOffline = () => this.drop();
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    // A connection attempt can hang (a captive network, a phone waking up): give up on
    // it after a while and try again, rather than show "Reconnecting…" forever.
    const watchdog = setTimeout(() => {
      if (ws.readyState === WebSocket.CONNECTING) ws.close();
    }, 4000);
    ws.addEventListener("open", () => {
      clearTimeout(watchdog);
      ws.opened = true;
      this.failedOpens = 0;
    });
    ws.addEventListener("message", (e) => this.receive(e.data));
    ws.addEventListener("close", (e) => {
      clearTimeout(watchdog);
      this.lost(ws, e.code, e.reason);
    });
  }

  async receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const type = frame.type;
    if (type === "hello") {
      this.join();
      return;
    }
    if (type === "snapshot" || type === "resync" || type === "admitted") {
      this.session = frame.session.key;
      this.epoch = frame.epoch;
      this.seq = frame.seq;
      this.emit("snapshot", frame);
    } else if (type === "reply" || type === "error" || type === "pong") {
      // answers: settled below (a resume's reply carries a `seq` but isn't an event)
    } else if (typeof frame.seq === "number" && !NOTICES.has(type)) {
      if (frame.seq <= this.seq) return; // already shown
      this.seq = frame.seq;
      this.emit("event", frame);
    } else if (NOTICES.has(type)) {
      this.emit("notice", frame);
    } else if (type === "service") {
      this.emit("service", frame);
    }
    if ((type === "reply" || type === "error" || type === "snapshot" || type === "resync") && frame.id != null) {
      const waiter = this.pending.get(frame.id);
      if (waiter) {
        this.pending.delete(frame.id);
        if (type === "error") waiter.reject(new CommandRefused(frame));
        else waiter.resolve(frame);
      }
    }
  }

  async join() {
    const fields = { room: this.roomId };
    const resuming = this.session && this.epoch !== null;
    if (resuming) fields.resume = { session: this.session, epoch: this.epoch, seq: this.seq };
    try {
      const answer = await this.send("join", fields, { force: true });
      this.ready = true;
      this.backoff = 500;
      if (answer.type === "reply" && answer.resumed) {
        this.epoch = answer.epoch;
        this.emit("resumed", answer);
      } else if (answer.type === "reply" && answer.waiting) {
        this.emit("waiting", answer);
      }
      this.emit("connected", answer);
    } catch (error) {
      this.emit("refused", error);
      this.close();
    }
  }

  /** Send a command and wait for its answer. Room commands carry a client id (`cid`):
   * when the answer is lost — `outcome_unknown`, or the connection dropping after the
   * command went out — it is sent again with the same id once we are back (the server
   * never applies it twice, and answers a repeat as it did the first time). */
  async send(type, fields = {}, { force = false } = {}) {
    if (force) return this.transmit(type, fields, true);
    const cid = `${this.cidPrefix}-${this.nextCid++}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transmit(type, { ...fields, cid }, false);
      } catch (error) {
        const unknown = error.code === "outcome_unknown" || error.sent;
        if (!unknown || attempt >= RETRIES || this.closed) throw error;
        if (error.code === "outcome_unknown") {
          await new Promise((resolve) => setTimeout(resolve, (error.detail.retry_after || 1) * 1000));
        } else if (!(await this.back(RETRY_WAIT_MS))) {
          throw error;
        }
      }
    }
  }

  transmit(type, fields, force) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || (!this.ready && !force)) {
      return Promise.reject(new CommandRefused({
        code: "offline", message: strings.network.reconnecting,
      }));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }

  /** Resolves true once the room is joined again, false after `ms` or if it closes. */
  back(ms) {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value) => {
        clearTimeout(timer);
        this.removeEventListener("connected", onConnected);
        this.removeEventListener("closed", onClosed);
        resolve(value);
      };
      const onConnected = () => done(true);
      const onClosed = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.addEventListener("connected", onConnected);
      this.addEventListener("closed", onClosed);
    });
  }

  /** Leave at once, without waiting for an answer (the quick exit): the frame goes out
   * before the socket's close. */
  leaveNow() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.ready) {
      this.ws.send(JSON.stringify({ type: "leave", id: this.nextId++ }));
    }
    this.close();
  }

  lost(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ready = false;
    for (const waiter of this.pending.values()) {
      const dropped = new CommandRefused({ code: "offline", message: strings.network.dropped });
      dropped.sent = true; // it went out: it may have been carried out
      waiter.reject(dropped);
    }
    this.pending.clear();
    if (this.closed) return;
    if (FINAL.has(code)) {
      this.emit("closed", { code, reason });
      return;
    }
    this.emit("reconnecting", { code });
    if (!navigator.onLine) return; // the "online" event brings us back
    if (!ws.opened) {
      this.failedOpens = (this.failedOpens || 0) + 1;
      if (this.failedOpens === REFUSALS_BEFORE_ASKING) this.checkSignedIn();
    }
    this.retryTimer = setTimeout(() => this.retryNow(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 8000);
  }

  /** The server keeps refusing to open: a browser can't see why, so ask the HTTP API.
   * Signed out: stop, and say so. Otherwise keep trying (and say the room is hard to
   * reach). */
  async checkSignedIn() {
    let status = 0;
    try {
      status = (await fetch("/api/auth/me", { credentials: "same-origin" })).status;
    } catch {
      return; // the network: retrying is right
    }
    if (status === 401 && !this.closed) {
      this.close();
      this.emit("closed", { code: 4001, reason: "signed out" });
    } else if (!this.closed) {
      this.emit("unreachable", { status });
    }
  }

  retryNow() {
    if (this.closed || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  drop() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(4000, "offline");
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }
}
