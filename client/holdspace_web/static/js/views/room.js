// A live group session: the welcome (agreement, crisis resources, listen or share),
// the room itself, and — for facilitators — the tools that keep it safe.
import { announce, ask, clock, field, h, replace, show, time, unannounce } from "../dom.js";
import { REACTIONS, Room } from "../model.js";
import { RoomSocket } from "../socket.js";

const OUTCOMES = { done: "shared", passed: "passed", timed_out: "ran out of time", skipped: "skipped", left: "left" };
const KINDS = { check_in: "Check-in", check_out: "Check-out", custom: "Round" };

export function room(app, roomId) {
  const view = new RoomView(app, roomId);
  app.leaving = () => view.close();
  view.start();
}

class RoomView {
  constructor(app, roomId) {
    this.app = app;
    this.model = null;
    this.connected = false;
    this.socket = new RoomSocket(roomId);
    this.title = h("h1", {}, "Joining…");
    this.status = h("p", { class: "conn", role: "status" }, "Connecting…");
    this.service = h("p", { class: "service", role: "status", hidden: true });
    this.area = h("div", { class: "room-area" });
    this.leaveButton = h("button", { type: "button", class: "secondary", onclick: () => this.leave() }, "Leave");
    app.main.append(
      h("header", { class: "room-head" }, this.title, h("div", { class: "head-tools" }, this.status, this.leaveButton)),
      this.service,
      this.area,
    );
  }

  start() {
    const s = this.socket;
    s.addEventListener("snapshot", (e) => this.onSnapshot(e.detail));
    s.addEventListener("event", (e) => this.onEvent(e.detail));
    s.addEventListener("notice", (e) => this.onNotice(e.detail));
    s.addEventListener("service", (e) => this.onService(e.detail));
    s.addEventListener("connected", () => this.setConnected(true));
    s.addEventListener("resumed", (e) => this.onResumed(e.detail));
    s.addEventListener("waiting", (e) => this.showWaiting(e.detail));
    s.addEventListener("reconnecting", () => this.setConnected(false));
    s.addEventListener("refused", (e) => this.showRefused(e.detail));
    s.addEventListener("closed", (e) => this.showClosed(e.detail));
    s.open();
  }

  close() {
    this.socket.close();
  }

  async leave() {
    try {
      await this.socket.send("leave");
    } catch {
      // leaving anyway
    }
    this.app.go("/groups");
  }

  setConnected(on) {
    this.connected = on;
    this.status.textContent = on ? "Connected" : "Reconnecting…";
    this.status.classList.toggle("offline", !on);
    if (this.model && this.roomEl) this.renderComposer();
  }

  // -- frames ---------------------------------------------------------------

  onSnapshot(s) {
    const first = !this.model;
    this.model = new Room(s);
    this.app.crisis = s.room.crisis_resources;
    this.title.textContent = s.room.name;
    document.title = `${s.room.name} — Holdspace`;
    if (!this.model.staff && !this.model.you.agreed) this.showWelcome();
    else this.showRoom();
    if (first) announce(`You've joined ${s.room.name}.`);
  }

  onEvent(ev) {
    const m = this.model;
    if (!m) return;
    const wasMyTurn = m.round && m.round.holder === m.you.user_id;
    m.apply(ev);
    if (!this.roomEl) return;
    if (ev.type === "message") {
      this.messages.append(this.messageItem(m.messages[m.messages.length - 1]));
      this.scrollDown();
      if (ev.user_id !== m.you.user_id) {
        announce(ev.redacted ? "" : ev.sensitive
          ? `${ev.name} posted a message with a content warning.`
          : `${ev.name}: ${ev.text}`);
      }
    } else if (ev.type === "reaction" || ev.type === "redacted") {
      if (ev.type === "redacted") unannounce();
      this.updateMessage(ev.message);
    } else {
      this.renderSide();
    }
    const myTurn = m.round && m.round.holder === m.you.user_id;
    if (myTurn && !wasMyTurn) {
      announce(m.round.second_chance ? "Another chance: it's your turn, if you'd like to share. You can always pass."
        : "It's your turn to share. You can always pass.");
    }
    if (ev.type === "paused") announce(`The group is paused. ${ev.message || ""}`);
    if (ev.type === "resumed") announce("The group has resumed.");
    if (ev.type === "muted" && ev.user_id === m.you.user_id) announce("A facilitator has paused your messages for now.");
    if (ev.type === "unmuted" && ev.user_id === m.you.user_id) announce("You can post again.");
    if (ev.type === "round_started") announce(`${KINDS[ev.kind] || "A round"} has started: ${ev.prompt}`);
    if (ev.type === "session_ended") this.showFarewell("This session has ended. Thank you for being here.");
    this.renderComposer();
  }

  onResumed(reply) {
    // Notices aren't replayed; a facilitator's resume brings what they hold instead.
    if (this.model && reply.whispers) this.model.whispers = reply.whispers;
    if (this.model && reply.waiting) this.model.waiting = reply.waiting;
    if (this.roomEl) this.renderSide();
    announce("Reconnected. You're up to date.");
  }

  onNotice(n) {
    const m = this.model;
    if (n.type === "removed" || n.type === "declined" || n.type === "session_over") {
      this.socket.close();
      this.showFarewell(n.message, n.crisis_resources);
      return;
    }
    if (!m) return;
    m.notice(n);
    if (n.type === "whisper") announce(`New whisper from ${n.name}.`);
    if (n.type === "arrival") announce(`${n.name} is waiting to come in.`);
    if (this.roomEl) this.renderSide();
  }

  onService(frame) {
    this.service.hidden = frame.available;
    this.service.textContent = frame.available ? "" : frame.message;
    announce(frame.message);
  }

  // -- screens --------------------------------------------------------------

  showWelcome() {
    const m = this.model;
    this.roomEl = null;
    const choose = async (mode) => {
      try {
        await this.socket.send("agree");
        if (mode === "sharer") await this.socket.send("set_mode", { mode });
        this.showRoom();
      } catch (e) {
        error.textContent = e.message;
      }
    };
    const error = h("p", { class: "error", role: "alert" });
    replace(this.area, h("section", { class: "card welcome", "aria-labelledby": "welcome-h" },
      h("h2", { id: "welcome-h" }, "Before you join"),
      h("p", {}, "This group has an agreement everyone affirms at the start of each session:"),
      h("ul", { class: "guidelines" }, m.room.guidelines.split("\n").filter(Boolean).map((line) => h("li", {}, line))),
      h("div", { class: "resources" }, h("h3", {}, "If you need urgent help"), h("p", {}, m.room.crisis_resources)),
      h("p", {}, "Listening is taking part. You can change your mind at any time, and you can always pass."),
      error,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => choose("listener") }, "I agree — Just listen"),
        h("button", { type: "button", class: "primary", onclick: () => choose("sharer") }, "I agree — I'd like to share"))));
    this.area.querySelector("button.primary").focus();
  }

  showWaiting(reply) {
    this.roomEl = null;
    replace(this.area, h("section", { class: "card", "aria-labelledby": "wait-h" },
      h("h2", { id: "wait-h" }, "Please wait a moment"),
      h("p", {}, reply.message || "A facilitator will bring you in shortly."),
      h("p", {}, "You'll come in automatically. Support is always one tap away: “Crisis support” at the top of the page.")));
  }

  showFarewell(message, resources) {
    this.roomEl = null;
    this.leaveButton.hidden = true;
    replace(this.area, h("section", { class: "card", "aria-labelledby": "bye-h" },
      h("h2", { id: "bye-h" }, "Take care"),
      h("p", {}, message),
      resources ? h("div", { class: "resources" }, h("h3", {}, "If you need urgent help"), h("p", {}, resources)) : null,
      h("p", {}, h("a", { href: "#/groups" }, "Back to my groups"))));
    announce(message);
  }

  showRefused(error) {
    replace(this.area, h("section", { class: "card" },
      h("h2", {}, "You can't join right now"),
      h("p", { role: "alert" }, error.message),
      h("p", {}, h("a", { href: "#/groups" }, "Back to my groups"))));
    this.title.textContent = "Not available";
  }

  showClosed({ code }) {
    this.setConnected(false);
    const why = code === 4001 ? "You've been signed out. Please sign in again." : "The connection was closed.";
    replace(this.area, h("section", { class: "card" }, h("h2", {}, "Disconnected"), h("p", { role: "alert" }, why),
      h("p", {}, h("a", { href: "#/signin" }, "Sign in"))));
  }

  showRoom() {
    this.messages = h("ol", { class: "messages", "aria-label": "Messages" });
    this.banner = h("div", { class: "banner" });
    this.side = h("div", { class: "side" });
    this.composer = h("div", { class: "composer" });
    this.roomEl = h("div", { class: "room" },
      h("section", { class: "stream", "aria-label": "Conversation" }, this.banner, this.messages, this.composer),
      h("aside", { class: "side-wrap", "aria-label": "Group" }, this.side));
    replace(this.area, this.roomEl);
    for (const message of this.model.messages) this.messages.append(this.messageItem(message));
    this.buildComposer();
    this.renderSide();
    this.renderComposer();
    this.scrollDown();
  }

  scrollDown() {
    this.messages.lastElementChild?.scrollIntoView({ block: "nearest" });
  }

  // -- messages ---------------------------------------------------------------

  messageItem(msg) {
    const m = this.model;
    const li = h("li", { class: `message${msg.user_id === m.you.user_id ? " mine" : ""}`, dataset: { id: String(msg.id) } });
    this.fillMessage(li, msg);
    return li;
  }

  updateMessage(id) {
    const li = this.messages?.querySelector(`li[data-id="${id}"]`);
    const msg = this.model.message(id);
    if (li && msg) this.fillMessage(li, msg);
  }

  fillMessage(li, msg) {
    const m = this.model;
    let body;
    if (msg.redacted) {
      body = h("p", { class: "redacted" }, "This message was removed by a facilitator.");
    } else if (msg.sensitive) {
      body = h("details", { class: "cw" }, h("summary", {}, "Content warning — select to read"), h("p", { class: "text" }, msg.text));
    } else {
      body = h("p", { class: "text" }, msg.text);
    }
    const reactions = msg.redacted ? null : h("div", { class: "reactions", role: "group", "aria-label": `Reactions to ${msg.name}'s message` },
      REACTIONS.map(([kind, label]) => {
        const count = msg.reactions[kind] || 0;
        const mine = msg.mine.includes(kind);
        return h("button", {
          type: "button",
          class: "reaction",
          "aria-pressed": mine ? "true" : "false",
          onclick: () => this.react(msg, kind),
        }, label, count ? h("span", { class: "count" }, ` ${count}`) : null);
      }),
      m.staff || msg.user_id === m.you.user_id
        ? h("button", { type: "button", class: "link", onclick: () => this.whoReacted(msg) }, "Who reacted")
        : null,
      m.staff ? h("button", { type: "button", class: "link danger", onclick: () => this.redact(msg) }, "Remove text") : null);
    replace(li, h("p", { class: "meta" }, h("span", { class: "name" }, msg.name), " ", time(msg.at)), body, reactions);
  }

  async react(msg, kind) {
    try {
      const reply = await this.socket.send("react", { message: msg.id, kind });
      const mine = new Set(msg.mine);
      if (reply.reacted) mine.add(kind);
      else mine.delete(kind);
      msg.mine = [...mine];
      this.updateMessage(msg.id);
    } catch (e) {
      announce(e.message);
    }
  }

  async whoReacted(msg) {
    try {
      const reply = await this.socket.send("who_reacted", { message: msg.id });
      const rows = REACTIONS.filter(([kind]) => reply.reactions[kind]?.length)
        .map(([kind, label]) => h("li", {}, `${label}: ${reply.reactions[kind].join(", ")}`));
      await show("Who reacted", rows.length ? h("ul", {}, rows) : h("p", {}, "No reactions yet."));
    } catch (e) {
      announce(e.message);
    }
  }

  async redact(msg) {
    const data = await ask("Remove this message's text?", [
      h("p", {}, "Everyone will see that a facilitator removed it. The text can't be brought back."),
      field("Reason (for the moderation record, optional)", h("input", { name: "reason", maxlength: 200 })),
    ], { submit: "Remove text", danger: true });
    if (data) await this.command("redact", { message: msg.id, ...(data.reason ? { reason: data.reason } : {}) });
  }

  // -- the composer -------------------------------------------------------------

  // Built once, then only updated: someone typing must never lose their words or focus.
  buildComposer() {
    const input = h("textarea", { id: "compose", name: "text", rows: 3, maxlength: 2000, "aria-describedby": "compose-why" });
    const warn = h("input", { type: "checkbox", id: "compose-cw", name: "sensitive" });
    const send = h("button", { type: "submit", class: "primary" }, "Send");
    const why = h("p", { id: "compose-why", class: "why" });
    const form = h("form", {
      onsubmit: async (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (!value) return;
        send.disabled = true;
        try {
          await this.socket.send("post", { text: value, ...(warn.checked ? { sensitive: true } : {}) });
          // Clear only what was sent: they may have started the next message meanwhile.
          if (input.value.trim() === value) {
            input.value = "";
            warn.checked = false;
          }
          why.textContent = "";
        } catch (e) {
          why.textContent = e.message;
        } finally {
          this.renderComposer();
          if (!input.disabled) input.focus();
        }
      },
    },
    h("label", { for: "compose" }, "Your message"),
    input,
    h("div", { class: "compose-row" },
      h("label", { class: "check", for: "compose-cw" }, warn, " Add a content warning"),
      send));
    const mode = h("button", { type: "button", onclick: () => this.command("set_mode", { mode: this.model.me.mode === "sharer" ? "listener" : "sharer" }) });
    const hand = h("button", { type: "button", onclick: () => this.command(this.model.hands.includes(this.model.you.user_id) ? "lower_hand" : "raise_hand") });
    const whisper = h("button", { type: "button", onclick: () => this.whisper() }, "Whisper to facilitators");
    const tools = h("div", { class: "tools", role: "group", "aria-label": "Your participation" }, mode, hand, whisper);
    this.parts = { input, warn, send, why, mode, hand, tools };
    replace(this.composer, form, why, tools);
  }

  renderComposer() {
    if (!this.composer || !this.parts) return;
    const m = this.model;
    const { input, warn, send, why, mode, hand, tools } = this.parts;
    const block = m.composerBlock(this.connected);
    for (const control of [input, warn, send]) control.disabled = !!block;
    // A refusal's message stays until the next send; a block's reason goes when it lifts.
    if (block) why.textContent = block;
    else if (this.wasBlocked) why.textContent = "";
    this.wasBlocked = !!block;
    tools.hidden = m.staff || m.ended;
    mode.textContent = m.me.mode === "sharer" ? "Just listen" : "I'd like to share";
    hand.textContent = m.hands.includes(m.you.user_id) ? "Lower hand" : "Raise hand";
  }

  async whisper() {
    const data = await ask("Whisper to the facilitators", [
      h("p", {}, "Only the facilitators will see this. Nothing appears in the room."),
      field("Your whisper", h("textarea", { name: "text", rows: 3, maxlength: 500, required: true })),
    ], { submit: "Send whisper" });
    if (!data || !data.text.trim()) return;
    try {
      const reply = await this.socket.send("whisper", { text: data.text });
      announce(reply.facilitators_present ? "Your whisper was sent to the facilitators." : "Your whisper was sent. No facilitator is connected right now; they'll see it when they're back.");
    } catch (e) {
      announce(e.message);
    }
  }

  async command(type, fields = {}) {
    try {
      return await this.socket.send(type, fields);
    } catch (e) {
      announce(e.message, { assertive: true });
      const why = document.getElementById("compose-why");
      if (why) why.textContent = e.message;
      return null;
    }
  }

  // -- the side: who's here, the round, facilitator tools ------------------------

  renderSide() {
    if (!this.side) return;
    const m = this.model;
    const parts = [this.renderBanner(), this.renderRound(), this.renderPeople()];
    if (m.staff) parts.push(this.renderTools(), this.renderWaiting(), this.renderWhispers());
    replace(this.side, parts);
  }

  renderBanner() {
    const m = this.model;
    const lines = [];
    if (m.session.phase !== "live") lines.push(`The group starts at ${clock(m.session.starts_at)}.`);
    if (m.session.paused) {
      lines.push(m.session.pause_reason === "no_facilitator"
        ? "Paused until a facilitator is back."
        : `Paused${m.session.pause_message ? `: ${m.session.pause_message}` : "."}`);
    }
    if (m.me.muted) {
      lines.push(m.me.muted_until ? `Your messages are paused until ${clock(m.me.muted_until)}.` : "A facilitator has paused your messages for now.");
    }
    if (m.session.locked) lines.push("The room is closed to new arrivals.");
    if (m.session.slow_mode) lines.push(`Slow mode: one message every ${m.session.slow_mode} seconds.`);
    replace(this.banner, lines.map((line) => h("p", {}, line)));
    this.banner.hidden = !lines.length;
    return null;
  }

  renderRound() {
    const m = this.model;
    const r = m.round;
    if (!r) {
      if (!m.lastSummary) return null;
      return h("section", { class: "panel", "aria-labelledby": "round-h" },
        h("h2", { id: "round-h" }, "The round has ended"),
        h("ul", {}, m.lastSummary.map((s) => h("li", {}, `${m.name(s.user_id)}: ${OUTCOMES[s.outcome] || s.outcome}${s.second_chance ? `, then ${OUTCOMES[s.second_chance] || s.second_chance}` : ""}`))));
    }
    const mine = r.holder === m.you.user_id;
    const holder = r.holder ? (mine ? "It's your turn." : `${m.name(r.holder)} is sharing.`) : "Passing the piece on…";
    const actions = [];
    if (mine) {
      actions.push(h("button", { type: "button", class: "primary", onclick: () => this.command("done") }, "Done"));
      actions.push(h("button", { type: "button", onclick: () => this.command("pass") }, "Pass"));
    }
    if (m.staff) {
      if (r.holder) actions.push(h("button", { type: "button", onclick: () => this.command("skip_turn") }, "Skip turn"));
      actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.command("end_round") }, "End round"));
    }
    return h("section", { class: `panel round${mine ? " your-turn" : ""}`, "aria-labelledby": "round-h" },
      h("h2", { id: "round-h" }, KINDS[r.kind] || "Round"),
      h("p", { class: "prompt" }, r.prompt),
      r.second_chance ? h("p", {}, "Another chance for anyone who passed.") : null,
      h("p", { class: "holder" }, holder, r.deadline && r.holder ? ` (until ${clock(r.deadline)})` : ""),
      h("ol", { class: "order", "aria-label": "Order" }, r.order.map((u) => h("li", {},
        m.name(u), r.outcomes[u] ? ` — ${OUTCOMES[r.outcomes[u]]}` : "", u === r.holder ? " — sharing now" : ""))),
      actions.length ? h("div", { class: "actions" }, actions) : null);
  }

  renderPeople() {
    const m = this.model;
    const people = [...m.participants.values()];
    return h("section", { class: "panel", "aria-labelledby": "people-h" },
      h("h2", { id: "people-h" }, `Here (${people.length})`),
      h("ul", { class: "people" }, people.map((p) => {
        const states = [
          p.role !== "member" ? "facilitator" : p.mode === "sharer" ? "sharing" : "listening",
          p.away ? "away" : null,
          p.muted ? "muted" : null,
          m.hands.includes(p.user_id) ? `hand raised (${m.hands.indexOf(p.user_id) + 1})` : null,
        ].filter(Boolean);
        const tools = m.staff && p.role === "member" && p.user_id !== m.you.user_id ? this.personTools(p) : null;
        return h("li", { class: "person" },
          h("span", { class: "name" }, p.name, p.user_id === m.you.user_id ? " (you)" : ""),
          h("span", { class: "states" }, states.join(" · ")),
          tools);
      })));
  }

  personTools(p) {
    return h("div", { class: "person-tools", role: "group", "aria-label": `Actions for ${p.name}` },
      p.muted
        ? h("button", { type: "button", class: "small", onclick: () => this.command("unmute", { user: p.user_id }) }, `Unmute ${p.name}`)
        : h("button", { type: "button", class: "small", onclick: () => this.mute(p) }, `Mute ${p.name}`),
      h("button", { type: "button", class: "small danger", onclick: () => this.remove(p) }, `Remove ${p.name}`));
  }

  async mute(p) {
    const minutes = h("select", { name: "minutes" },
      [["5", "5 minutes"], ["10", "10 minutes"], ["30", "30 minutes"], ["", "Until I unmute them"]].map(([v, l]) => h("option", { value: v }, l)));
    const data = await ask(`Mute ${p.name}?`, [
      h("p", {}, "They can still read, react and whisper to you. They'll see why they can't post."),
      field("For how long", minutes),
      field("Reason (optional, for the moderation record)", h("input", { name: "reason", maxlength: 200 })),
    ], { submit: "Mute" });
    if (!data) return;
    const fields = { user: p.user_id };
    if (data.minutes) fields.minutes = Number(data.minutes);
    if (data.reason) fields.reason = data.reason;
    await this.command("mute", fields);
  }

  async remove(p) {
    const data = await ask(`Remove ${p.name} from this session?`, [
      h("p", {}, "They'll be shown a kind message and crisis resources."),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "bar", value: "yes" }), " Also bar them from future sessions"),
      field("Reason (optional, for the moderation record)", h("input", { name: "reason", maxlength: 200 })),
    ], { submit: "Remove", danger: true });
    if (!data) return;
    await this.command("remove", { user: p.user_id, bar: data.bar === "yes", ...(data.reason ? { reason: data.reason } : {}) });
  }

  renderTools() {
    const m = this.model;
    const s = m.session;
    const b = (label, onclick, cls) => h("button", { type: "button", class: cls || "", onclick }, label);
    return h("section", { class: "panel", "aria-labelledby": "tools-h" },
      h("h2", { id: "tools-h" }, "Facilitator tools"),
      h("div", { class: "tool-grid" },
        s.paused && s.pause_reason === "facilitator" ? b("Resume the group", () => this.command("resume"), "primary") : b("Pause…", () => this.pause()),
        m.round ? null : b("Start a round…", () => this.startRound()),
        m.hands.length ? b(`Give the floor to ${m.name(m.hands[0])}`, () => this.command("give_floor")) : null,
        m.hands.length ? b("Clear hands", () => this.command("clear_hands")) : null,
        s.locked ? b("Unlock the door", () => this.command("unlock")) : b("Lock the door", () => this.command("lock")),
        b(s.slow_mode ? "Turn off slow mode" : "Slow mode…", () => this.slowMode()),
        b("Participation balance", () => this.balance()),
        h("a", { class: "button", href: `#/manage/${encodeURIComponent(m.room.id)}` }, "Group settings and record"),
        b("End the session…", () => this.endSession(), "danger")));
  }

  async pause() {
    const data = await ask("Pause the group", [
      field("A message for everyone (optional)", h("input", { name: "message", maxlength: 200, value: "Let's take a breath together." })),
    ], { submit: "Pause" });
    if (data) await this.command("pause", data.message ? { message: data.message } : {});
  }

  async startRound() {
    const kind = h("select", { name: "kind" }, Object.entries(KINDS).map(([v, l]) => h("option", { value: v }, l)));
    const order = h("select", { name: "order" }, [["arrival", "In order of arrival"], ["quietest", "Quietest first"]].map(([v, l]) => h("option", { value: v }, l)));
    const data = await ask("Start a round", [
      h("p", {}, "The talking piece goes to everyone sharing, one at a time. Listeners are never called on."),
      field("Kind", kind),
      field("Prompt (optional for check-in and check-out)", h("input", { name: "prompt", maxlength: 300 })),
      field("Order", order),
      field("Minutes per turn (optional)", h("input", { name: "minutes", type: "number", min: 1, max: 15, inputmode: "numeric" })),
    ], { submit: "Start" });
    if (!data) return;
    const fields = { kind: data.kind, order: data.order };
    if (data.prompt) fields.prompt = data.prompt;
    if (data.minutes) fields.turn_seconds = Number(data.minutes) * 60;
    await this.command("start_round", fields);
  }

  async slowMode() {
    if (this.model.session.slow_mode) {
      await this.command("slow_mode", { seconds: 0 });
      return;
    }
    const data = await ask("Slow mode", [
      field("Seconds between a member's messages", h("input", { name: "seconds", type: "number", min: 5, max: 600, value: 30 })),
    ], { submit: "Turn on" });
    if (data) await this.command("slow_mode", { seconds: Number(data.seconds) });
  }

  async balance() {
    const reply = await this.command("balance");
    if (!reply) return;
    const rows = (reply.members || []).map((row) =>
      h("li", {}, `${row.name || "Someone who left"}${row.present ? "" : " (left)"}: ${row.posts} messages, ${row.turns} turns shared, ${row.passes} passes`));
    await show("Participation balance", rows.length ? h("ul", {}, rows) : h("p", {}, "Nobody has shared yet."));
  }

  async endSession() {
    const data = await ask("End this session for everyone?", [h("p", {}, "Everyone will be thanked and the room will close until the next session.")],
      { submit: "End the session", danger: true });
    if (data) await this.command("end_session");
  }

  renderWaiting() {
    const m = this.model;
    if (!m.waiting.length) return null;
    return h("section", { class: "panel", "aria-labelledby": "waiting-h" },
      h("h2", { id: "waiting-h" }, `Waiting to come in (${m.waiting.length})`),
      h("ul", {}, m.waiting.map((w) => h("li", {}, w.name, " ", w.place === "door" ? "(at the door: comes in when the share ends)" : "",
        w.place === "waiting_room" ? h("span", { class: "actions" },
          h("button", { type: "button", class: "small primary", onclick: () => this.command("admit", { user: w.user_id }) }, `Admit ${w.name}`),
          h("button", { type: "button", class: "small", onclick: () => this.command("decline", { user: w.user_id }) }, `Decline ${w.name}`)) : null))));
  }

  renderWhispers() {
    const m = this.model;
    return h("section", { class: "panel", "aria-labelledby": "whispers-h" },
      h("h2", { id: "whispers-h" }, `Whispers (${m.whispers.length})`),
      m.whispers.length
        ? h("ul", { class: "whispers" }, m.whispers.slice().reverse().map((w) => h("li", {}, h("p", { class: "meta" }, h("span", { class: "name" }, w.name), " ", time(w.at)), h("p", { class: "text" }, w.text))))
        : h("p", {}, "No whispers yet."));
  }
}
