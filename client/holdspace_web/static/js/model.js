// The room as this person sees it: built from a snapshot, then moved on by each
// room event in order (and by the notices meant for them). It mirrors the server's
// view; it decides nothing — not even why this person can't post: the server says
// (`post`), and the model keeps what it said.
import { strings } from "./strings.js";

export const REACTIONS = ["me_too", "heart", "thank_you"];

const FREE = { code: null, message: null }; // nothing keeps this person from posting

export class Room {
  constructor(snapshot) {
    this.reset(snapshot);
  }

  reset(s) {
    this.room = s.room;
    this.session = { ...s.session };
    this.participants = new Map(s.participants.map((p) => [p.user_id, { ...p }]));
    this.hands = [...s.hands];
    this.floor = s.floor || null;
    this.round = s.round ? { ...s.round, outcomes: { ...s.round.outcomes } } : null;
    this.messages = s.messages.map((m) => ({ ...m, reactions: { ...m.reactions }, mine: [...m.mine] }));
    this.limits = s.limits || { message: 2000, whisper: 500 };
    this.you = { ...s.you };
    this.whispers = s.whispers ? [...s.whispers] : [];
    this.waiting = s.waiting ? [...s.waiting] : [];
    // Why this person can't post now, as the server put it: `code` (null: they may) and
    // its `message`. From the snapshot; then each `post_state` notice, or a resume's reply.
    this.post = s.post || FREE;
    this.ended = false;
    this.lastRound = null; // the round that just ended: { kind, summary }
  }

  get me() {
    return this.participants.get(this.you.user_id) || this.you;
  }

  get staff() {
    return this.you.role !== "member";
  }

  name(userId) {
    const p = this.participants.get(userId);
    return p ? p.name : strings.words.someoneWhoLeft;
  }

  message(id) {
    return this.messages.find((m) => m.id === id);
  }

  /** What the words for a refusal may name, as this person knows it: whoever else holds
   * the talking piece or the floor, and the pause (see `refusals` in strings.js). */
  get context() {
    const me = this.you.user_id;
    const holder = this.round ? this.round.holder : null;
    return {
      holder: holder && holder !== me ? this.name(holder) : null,
      floor: this.floor && this.floor !== me ? this.name(this.floor) : null,
      pause_reason: this.session.pause_reason,
      pause_message: this.session.pause_message,
    };
  }

  /** Whether this person holds the talking piece or the floor right now. */
  get myTurn() {
    const me = this.you.user_id;
    if (this.round && this.round.holder === me) return this.round.second_chance ? "second" : "round";
    return this.floor === me ? "floor" : null;
  }

  apply(ev) {
    const p = ev.user_id ? this.participants.get(ev.user_id) : null;
    switch (ev.type) {
      case "joined":
        this.participants.set(ev.participant.user_id, {
          away: false, muted: false, muted_until: null, ...ev.participant,
        });
        break;
      case "away":
        if (p) p.away = true;
        break;
      case "back":
        if (p) p.away = false;
        break;
      case "left":
        this.participants.delete(ev.user_id);
        this.hands = this.hands.filter((u) => u !== ev.user_id);
        break;
      case "agreed":
        if (p) p.agreed = true;
        break;
      case "mode":
        if (p) p.mode = ev.mode;
        break;
      case "message":
        this.messages.push({
          id: ev.seq, user_id: ev.user_id, name: ev.name, role: ev.role || "member", text: ev.text,
          redacted: ev.redacted, sensitive: ev.sensitive, at: ev.at, reactions: {}, mine: [],
        });
        if (this.messages.length > 200) this.messages.shift();
        break;
      case "reaction": {
        const m = this.message(ev.message);
        if (m) {
          if (ev.count > 0) m.reactions[ev.kind] = ev.count;
          else delete m.reactions[ev.kind];
        }
        break;
      }
      case "redacted": {
        const m = this.message(ev.message);
        if (m) Object.assign(m, { text: null, redacted: true, reactions: {}, mine: [] });
        break;
      }
      case "muted":
        if (p) Object.assign(p, { muted: true, muted_until: ev.until });
        break;
      case "unmuted":
        if (p) Object.assign(p, { muted: false, muted_until: null });
        break;
      case "paused":
        Object.assign(this.session, { paused: true, pause_message: ev.message, pause_reason: ev.reason });
        break;
      case "resumed":
        Object.assign(this.session, { paused: false, pause_message: null, pause_reason: null });
        break;
      case "round_started":
        this.round = {
          id: ev.seq, kind: ev.kind, prompt: ev.prompt, turn_seconds: ev.turn_seconds,
          order: ev.order, holder: null, deadline: null, second_chance: false,
          queue: [...ev.order], outcomes: {},
        };
        this.lastRound = null;
        break;
      case "turn":
        if (this.round) {
          Object.assign(this.round, {
            holder: ev.user_id, deadline: ev.deadline, second_chance: ev.second_chance, queue: ev.queue,
          });
        }
        break;
      case "turn_ended":
        if (this.round) {
          this.round.holder = null;
          // A facilitator's private `turn_outcome` may already have said more.
          if (!ev.second_chance && !this.round.outcomes[ev.user_id]) this.round.outcomes[ev.user_id] = ev.outcome;
        }
        break;
      case "round_order":
        if (this.round) this.round.queue = ev.queue;
        break;
      case "round_ended": {
        const known = this.round ? this.round.outcomes : {};
        this.lastRound = {
          kind: this.round ? this.round.kind : null,
          by: ev.by,
          summary: ev.summary.map((s) => ({
            ...s, outcome: s.outcome === "moved_on" && known[s.user_id] ? known[s.user_id] : s.outcome,
          })),
        };
        this.round = null;
        break;
      }
      case "hand_raised":
      case "hand_lowered":
        this.hands = ev.queue;
        break;
      case "floor":
        this.hands = ev.queue;
        this.floor = ev.user_id;
        break;
      case "floor_ended":
        if (this.floor === ev.user_id) this.floor = null;
        break;
      case "hands_cleared":
        this.hands = [];
        break;
      case "locked":
        this.session.locked = true;
        break;
      case "unlocked":
        this.session.locked = false;
        break;
      case "waiting_room":
        this.session.waiting_room = ev.on;
        break;
      case "slow_mode":
        this.session.slow_mode = ev.seconds;
        break;
      case "session_started":
        this.session.phase = "live";
        break;
      case "session_ended":
        this.ended = true;
        break;
      default:
        break;
    }
    if (this.participants.has(this.you.user_id)) this.you = { ...this.me };
  }

  notice(n) {
    if (n.type === "whisper") this.whispers.push(n);
    if (n.type === "arrival") {
      this.waiting = this.waiting.filter((w) => w.user_id !== n.user_id);
      this.waiting.push(n);
    }
    if (n.type === "arrival_left") this.waiting = this.waiting.filter((w) => w.user_id !== n.user_id);
    if (n.type === "turn_outcome" && this.round && !n.second_chance) this.round.outcomes[n.user_id] = n.outcome;
    if (n.type === "post_state") this.post = { code: n.code || null, message: n.message || null };
  }

  /** Back after a dropped connection: notices aren't replayed, so the resume's reply
   * brings what they would have said. */
  resumed(reply) {
    if (reply.whispers) this.whispers = reply.whispers;
    if (reply.waiting) this.waiting = reply.waiting;
    if (reply.round && this.round) this.round.outcomes = { ...reply.round.outcomes };
    if (reply.post) this.post = reply.post;
  }

  /** Someone no longer waiting outside: they came in, or were declined or removed. */
  cameIn(userId) {
    this.waiting = this.waiting.filter((w) => w.user_id !== userId);
  }
}
