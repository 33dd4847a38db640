// The room as this person sees it: built from a snapshot, then moved on by each
// room event in order. It mirrors the server's view; it decides nothing.

export const REACTIONS = [
  ["me_too", "Me too"],
  ["heart", "Heart"],
  ["thank_you", "Thank you"],
];

export class Room {
  constructor(snapshot) {
    this.reset(snapshot);
  }

  reset(s) {
    this.room = s.room;
    this.session = { ...s.session };
    this.participants = new Map(s.participants.map((p) => [p.user_id, { ...p }]));
    this.hands = [...s.hands];
    this.round = s.round ? { ...s.round } : null;
    this.messages = s.messages.map((m) => ({ ...m, reactions: { ...m.reactions }, mine: [...m.mine] }));
    this.you = { ...s.you };
    this.whispers = s.whispers ? [...s.whispers] : [];
    this.waiting = s.waiting ? [...s.waiting] : [];
    this.ended = false;
    this.lastSummary = null;
  }

  get me() {
    return this.participants.get(this.you.user_id) || this.you;
  }

  get staff() {
    return this.you.role !== "member";
  }

  name(userId) {
    const p = this.participants.get(userId);
    return p ? p.name : "someone who left";
  }

  message(id) {
    return this.messages.find((m) => m.id === id);
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
          id: ev.seq, user_id: ev.user_id, name: ev.name, text: ev.text, redacted: ev.redacted,
          sensitive: ev.sensitive, at: ev.at, reactions: {}, mine: [],
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
        this.lastSummary = null;
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
          if (!ev.second_chance) this.round.outcomes[ev.user_id] = ev.outcome;
        }
        break;
      case "round_order":
        if (this.round) this.round.queue = ev.queue;
        break;
      case "round_ended":
        this.round = null;
        this.lastSummary = ev.summary;
        break;
      case "hand_raised":
      case "hand_lowered":
      case "floor":
        this.hands = ev.queue;
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
  }

  /** Why this person can't post right now, in plain words; null when they can. */
  composerBlock(connected) {
    if (!connected) return "Reconnecting… you'll be able to send again in a moment.";
    if (this.ended) return "This session has ended.";
    const me = this.me;
    if (this.staff) return null;
    if (this.session.phase !== "live") return "The group hasn't started yet. You can post once it begins.";
    if (!me.agreed) return "Please affirm the group agreement before posting.";
    if (this.session.paused) {
      return this.session.pause_reason === "no_facilitator"
        ? "The group is paused until a facilitator is back."
        : `The group is paused${this.session.pause_message ? `: ${this.session.pause_message}` : "."}`;
    }
    if (me.muted) {
      return "A facilitator has paused your messages for now. You can still read, react and whisper to the facilitators.";
    }
    if (me.mode !== "sharer") return "You're listening. Choose “I'd like to share” to post.";
    if (this.round && this.round.holder && this.round.holder !== me.user_id) {
      return `It's ${this.name(this.round.holder)}'s turn to share. You can still react.`;
    }
    return null;
  }
}
