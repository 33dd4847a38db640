// A live group session: the welcome (agreement, crisis resources, listen or share), the
// room itself, and the moments around it (waiting to come in, leaving, the end). The
// room's parts live in ./room/: the conversation, the dock at the bottom (your turn and
// the composer), and the group panel with the facilitators' tools.
import { clearToasts, chime, resetTitle, setUnread, toast } from "../alerts.js";
import { announce, ask, clock, field, h, linked, linkedLines, replace, unannounce } from "../dom.js";
import { Room } from "../model.js";
import { RoomSocket } from "../socket.js";
import { Composer } from "./room/composer.js";
import { Messages } from "./room/messages.js";
import { Side } from "./room/side.js";
import { kindName } from "./room/words.js";

const PHONE = window.matchMedia("(max-width: 900px)");

export function room(app, roomId) {
  const view = new RoomView(app, roomId);
  app.leaving = () => view.close();
  app.quickLeave = () => view.socket.leaveNow();
  view.start();
}

class RoomView {
  constructor(app, roomId) {
    this.app = app;
    this.roomId = roomId;
    this.model = null;
    this.connected = false;
    this.unread = new Map(); // signals a facilitator hasn't seen yet: id -> toast
    this.summary = null; // the facilitators' end-of-session summary, when it comes
    this.socket = new RoomSocket(roomId);
    this.title = h("h1", {}, "Joining…");
    this.status = h("p", { class: "conn", role: "status", hidden: true });
    this.badge = h("span", { class: "count-badge", hidden: true });
    this.badgeWords = h("span", { class: "visually-hidden", hidden: true }, " new");
    this.drawerButton = h("button", {
      type: "button", class: "small secondary drawer-toggle", "aria-expanded": "false", "aria-controls": "group-panel",
      hidden: true, onclick: () => this.toggleDrawer(),
    }, "Group", " ", this.badge, this.badgeWords);
    this.leaveButton = h("button", { type: "button", class: "small secondary", onclick: () => this.leave() }, "Leave");
    this.service = h("p", { class: "service", role: "status", hidden: true });
    this.area = h("div", { class: "room-area" });
    document.body.classList.add("in-room");
    resetTitle();
    // Turning a phone sideways can make it wide: the conversation is set aside only while
    // the panel covers it.
    this.onScreen = () => {
      if (this.stream) this.stream.inert = PHONE.matches && this.roomEl?.classList.contains("drawer-open");
    };
    PHONE.addEventListener("change", this.onScreen);
    app.main.append(
      h("header", { class: "room-head" }, this.title,
        h("div", { class: "head-tools" }, this.status, this.drawerButton, this.leaveButton)),
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
    s.addEventListener("unreachable", () => {
      this.unreachable = true;
      this.showStatus();
    });
    s.addEventListener("refused", (e) => this.showRefused(e.detail));
    s.addEventListener("closed", (e) => this.showClosed(e.detail));
    s.open();
  }

  close() {
    this.socket.close();
    this.messages?.destroy();
    PHONE.removeEventListener("change", this.onScreen);
    document.body.classList.remove("in-room");
    clearToasts();
    resetTitle();
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
    if (on) this.unreachable = false;
    this.showStatus();
    if (this.model && this.roomEl) this.composer.render();
  }

  showStatus() {
    const ended = this.model?.ended;
    const text = ended ? "Session ended"
      : this.connected ? ""
        : this.unreachable ? "Can't reach the room — still trying" : "Reconnecting…";
    this.status.textContent = text;
    this.status.hidden = !text;
    this.status.classList.toggle("offline", !this.connected && !ended);
  }

  /** Run a command; a refusal is said aloud and shown where the composer explains. */
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

  /** Focus was on something that is gone: keep the person in the conversation, never at
   * the top of the page. */
  settle() {
    const active = document.activeElement;
    if (!active || active === document.body || !active.isConnected) this.messages?.list.focus({ preventScroll: true });
  }

  // -- frames ---------------------------------------------------------------

  onSnapshot(s) {
    const first = !this.model;
    this.model = new Room(s);
    this.app.crisis = { text: s.room.crisis_resources, html: s.room.crisis_resources_html };
    this.title.textContent = s.room.name;
    if (!this.model.staff && !this.model.you.agreed) this.showWelcome();
    else this.showRoom();
    if (first) announce(`You've joined ${s.room.name}.`);
  }

  onEvent(ev) {
    const m = this.model;
    if (!m) return;
    m.apply(ev);
    if (!this.roomEl) {
      if (ev.type === "session_ended") this.showFarewell("This session has ended. Thank you for being here.");
      return;
    }
    switch (ev.type) {
      case "message":
        this.messages.add(m.messages[m.messages.length - 1]);
        if (ev.user_id !== m.you.user_id) {
          announce(ev.redacted ? "" : ev.sensitive ? `${ev.name} posted a message with a content warning.` : `${ev.name}: ${ev.text}`);
        }
        break;
      case "reaction":
        this.messages.update(ev.message);
        break;
      case "redacted":
        unannounce();
        this.messages.update(ev.message);
        break;
      case "round_started":
        this.messages.note(`${kindName(ev.kind)} started: ${ev.prompt}`);
        announce(`${kindName(ev.kind)} has started: ${ev.prompt}`);
        break;
      case "round_ended": {
        const shared = ev.summary.filter((s) => s.outcome === "done" || s.second_chance === "done").map((s) => m.name(s.user_id));
        this.messages.note(`${kindName(m.lastRound.kind)} has ended.${shared.length ? ` Shared: ${shared.join(", ")}.` : ""}`);
        break;
      }
      case "paused":
        this.messages.note(ev.reason === "no_facilitator" ? "Paused until a facilitator is back." : `Paused${ev.message ? `: ${ev.message}` : "."}`);
        announce(`The group is paused. ${ev.message || ""}`);
        break;
      case "resumed":
        this.messages.note("The group has resumed.");
        announce("The group has resumed.");
        break;
      case "floor":
        this.messages.note(`${m.name(ev.user_id)} has the floor.`);
        break;
      case "muted":
        if (ev.user_id === m.you.user_id) announce("A facilitator has paused your messages for now.");
        break;
      case "unmuted":
        if (ev.user_id === m.you.user_id) announce("You can post again.");
        break;
      case "joined":
        m.cameIn(ev.participant.user_id);
        this.seen(`arrival-${ev.participant.user_id}`);
        break;
      case "session_ended":
        this.showFarewell("This session has ended. Thank you for being here.");
        return;
      default:
        break;
    }
    this.renderState();
  }

  onResumed(reply) {
    // Notices aren't replayed; the answer brings what they would have said.
    const m = this.model;
    if (m) {
      if (reply.whispers) m.whispers = reply.whispers;
      if (reply.waiting) m.waiting = reply.waiting;
      if (reply.round && m.round) m.round.outcomes = { ...reply.round.outcomes };
    }
    if (this.roomEl) this.renderState();
    announce("Reconnected. You're up to date.");
  }

  onNotice(n) {
    const m = this.model;
    if (n.type === "removed" || n.type === "declined" || n.type === "session_over") {
      this.socket.close();
      this.showFarewell(n.message, n.crisis_resources_html);
      return;
    }
    if (n.type === "session_summary") {
      this.summary = n;
      this.showSummary();
      return;
    }
    if (!m) return;
    m.notice(n);
    if (n.type === "whisper") this.onWhisper(n);
    if (n.type === "arrival") this.onArrival(n);
    if (n.type === "arrival_left") this.seen(`arrival-${n.user_id}`);
    if (this.roomEl) this.side.render();
  }

  onWhisper(n) {
    const m = this.model;
    if (!m.staff) {
      if (n.by) {
        toast(`${n.by_name} (facilitator), privately: ${n.text}`, [], { kind: "private" });
        announce(`${n.by_name} answered you privately: ${n.text}`, { assertive: true });
      }
      return;
    }
    if (n.by) {
      if (n.by !== m.you.user_id) this.seen(`whisper-${n.user_id}`); // a colleague answered
      return;
    }
    const what = n.text === null ? `${n.name} needs a moment` : `${n.name} whispers: ${n.text}`;
    this.signal(`whisper-${n.user_id}`, what, [["Reply", () => this.reply(n), "primary"]]);
  }

  onArrival(n) {
    const what = n.place === "door"
      ? `${n.name} is at the door: they'll come in when the share ends`
      : `${n.name} is waiting to come in`;
    const actions = n.place === "waiting_room"
      ? [["Admit", () => this.admit(n), "primary"], ["Decline", () => this.command("decline", { user: n.user_id })]]
      : [];
    this.signal(`arrival-${n.user_id}`, what, actions);
  }

  /** Something a facilitator must see: a toast in the first screen, the title's count,
   * the badge on the group button, a chime if they chose one. */
  signal(id, text, actions) {
    this.unread.get(id)?.remove();
    const el = toast(text, actions, { kind: "alert", onClose: () => this.seen(id, false) });
    this.unread.set(id, el);
    announce(text, { assertive: true });
    chime();
    this.showUnread();
  }

  seen(id, closeToast = true) {
    const el = this.unread.get(id);
    if (!el) return;
    this.unread.delete(id);
    if (closeToast) el.remove();
    this.showUnread();
  }

  showUnread() {
    const count = this.unread.size;
    setUnread(count);
    this.badge.hidden = this.badgeWords.hidden = !count;
    this.badge.textContent = count ? String(count) : "";
    if (this.roomEl) this.side.render();
  }

  async admit(w) {
    const reply = await this.command("admit", { user: w.user_id });
    if (reply) this.seen(`arrival-${w.user_id}`);
  }

  async reply(w) {
    const limit = this.model.limits.whisper;
    const data = await ask(`Reply to ${w.name}, privately`, [
      h("p", {}, `Only ${w.name} and the other facilitators will see this.`),
      w.text ? h("blockquote", {}, w.text) : w.text === null ? h("p", { class: "hint" }, `${w.name} asked for a moment.`) : null,
      field("Your reply", h("textarea", { name: "text", rows: 3, maxlength: limit, required: true })),
    ], { submit: "Send privately" });
    if (!data || !data.text.trim()) return;
    const sent = await this.command("whisper_reply", { user: w.user_id, text: data.text });
    if (sent) {
      this.seen(`whisper-${w.user_id}`);
      announce(`Sent to ${w.name}.`);
    }
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
    this.drawerButton.hidden = true;
    const choose = async (mode) => {
      try {
        await this.socket.send("agree");
        if (mode === "sharer") await this.socket.send("set_mode", { mode });
        this.showRoom();
        const input = this.composer.parts.input;
        if (mode === "sharer" && !input.disabled) input.focus();
        else this.messages.list.focus();
      } catch (e) {
        error.textContent = e.message;
      }
    };
    const error = h("p", { class: "error", role: "alert" });
    replace(this.area, h("section", { class: "card welcome", "aria-labelledby": "welcome-h" },
      h("h2", { id: "welcome-h" }, "Before you join"),
      h("p", {}, "This group has an agreement everyone affirms at the start of each session:"),
      h("ul", { class: "guidelines" }, linkedLines(m.room.guidelines_html).map((line) => h("li", {}, line))),
      h("div", { class: "resources" }, h("h3", {}, "If you need urgent help"), h("p", { class: "pre" }, linked(m.room.crisis_resources_html))),
      h("p", {}, "Listening is taking part. You can change your mind at any time, and you can always pass."),
      error,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => choose("listener") }, "I agree — Just listen"),
        h("button", { type: "button", class: "primary", onclick: () => choose("sharer") }, "I agree — I'd like to share"))));
  }

  showWaiting(reply) {
    this.roomEl = null;
    replace(this.area, h("section", { class: "card", "aria-labelledby": "wait-h" },
      h("h2", { id: "wait-h" }, "Please wait a moment"),
      h("p", {}, reply.message || "A facilitator will bring you in shortly."),
      h("p", {}, "You'll come in automatically. Support is always one tap away: “Crisis support” at the top of the page.")));
  }

  showFarewell(message, resourcesHtml) {
    this.roomEl = null;
    this.leaveButton.hidden = true;
    this.drawerButton.hidden = true;
    this.toggleDrawer(false);
    this.showStatus();
    this.farewell = h("section", { class: "card", "aria-labelledby": "bye-h" },
      h("h2", { id: "bye-h" }, "Take care"),
      h("p", {}, message),
      resourcesHtml ? h("div", { class: "resources" }, h("h3", {}, "If you need urgent help"), h("p", { class: "pre" }, linked(resourcesHtml))) : null,
      h("p", {}, h("a", { href: "#/groups" }, "Back to my groups")));
    replace(this.area, this.farewell);
    this.showSummary();
    announce(message);
    this.farewell.querySelector("h2").setAttribute("tabindex", "-1");
    this.farewell.querySelector("h2").focus({ preventScroll: true });
  }

  /** For facilitators: how the session went, in counts only — never a word anyone said. */
  showSummary() {
    const s = this.summary;
    if (!s || !this.farewell) return;
    const members = s.came.filter((p) => p.role === "member").map((p) => p.name);
    const n = (count, one, many) => `${count} ${count === 1 ? one : many}`;
    this.farewell.append(h("section", { class: "summary", "aria-labelledby": "summary-h" },
      h("h3", { id: "summary-h" }, "Session summary"),
      h("p", {}, members.length ? `${n(members.length, "member", "members")} came: ${members.join(", ")}.` : "No members came."),
      h("ul", {},
        h("li", {}, n(s.rounds, "round", "rounds")),
        h("li", {}, `${n(s.shares, "share", "shares")} and ${n(s.passes, "pass", "passes")} in rounds`),
        h("li", {}, n(s.messages, "message", "messages")),
        h("li", {}, n(s.whispers, "whisper", "whispers")),
        h("li", {}, n(s.removals, "removal", "removals"))),
      h("p", { class: "hint" }, "Counts only: nothing anyone said is kept. They are in the group's moderation record too."),
      h("p", {}, h("a", { href: `#/manage/${encodeURIComponent(this.roomId)}` }, "Group settings and record"))));
  }

  showRefused(error) {
    this.title.textContent = "Not available";
    if (error.code === "name_confusable" || error.code === "name_reserved") {
      this.showRename(error);
      return;
    }
    replace(this.area, h("section", { class: "card" },
      h("h2", {}, "You can't join right now"),
      h("p", { role: "alert" }, error.message),
      h("p", {}, h("a", { href: "#/groups" }, "Back to my groups"))));
  }

  /** A name that claims a role or looks like a facilitator's: choose another, then join. */
  showRename(error) {
    const input = h("input", { name: "display_name", autocomplete: "nickname", required: true, maxlength: 40 });
    const problem = h("p", { class: "error", role: "alert" }, error.message);
    const form = h("form", {
      class: "card narrow",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await this.app.rename(input.value);
          this.app.go(`/room/${encodeURIComponent(this.roomId)}`);
        } catch (e) {
          problem.textContent = e.message;
          input.focus();
        }
      },
    }, h("h2", {}, "Choose another name for this group"),
    problem,
    h("p", {}, "Everyone sees each person's role beside their name, so nobody is unsure who is speaking."),
    field("Display name", input, "A first name or a nickname is fine."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save and join")),
    h("p", {}, h("a", { href: "#/groups" }, "Back to my groups")));
    replace(this.area, form);
  }

  showClosed({ code }) {
    this.setConnected(false);
    const why = code === 4001 ? "You've been signed out. Please sign in again." : "The connection was closed.";
    replace(this.area, h("section", { class: "card" }, h("h2", {}, "Disconnected"), h("p", { role: "alert" }, why),
      h("p", {}, h("a", { href: "#/signin" }, "Sign in"))));
  }

  showRoom() {
    this.messages?.destroy();
    this.messages = new Messages(this);
    this.composer = new Composer(this);
    this.side = new Side(this);
    this.banner = h("div", { class: "banner", role: "status" });
    this.stream = h("section", { class: "stream", "aria-label": "Conversation" }, this.banner, this.messages.el, this.composer.el);
    this.roomEl = h("div", { class: "room" }, this.stream, this.side.el);
    this.side.el.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.roomEl.classList.contains("drawer-open")) {
        e.stopPropagation();
        this.toggleDrawer(false);
      }
    });
    replace(this.area, this.roomEl);
    this.drawerButton.hidden = false;
    this.messages.render();
    this.renderState();
  }

  renderState() {
    this.renderBanner();
    this.side.render();
    this.composer.render();
    this.showStatus();
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
    if (m.staff && m.session.waiting_room) lines.push("Waiting room on: new arrivals wait for you to let them in.");
    replace(this.banner, lines.map((line) => h("p", {}, line)));
    this.banner.hidden = !lines.length;
  }

  /** The group panel on a phone: opened over the conversation, which is set aside (inert)
   * meanwhile; Escape or Close brings the person back to the button that opened it. */
  toggleDrawer(open = !this.roomEl?.classList.contains("drawer-open")) {
    if (!this.roomEl) return;
    const was = this.roomEl.classList.contains("drawer-open");
    this.roomEl.classList.toggle("drawer-open", open);
    this.drawerButton.setAttribute("aria-expanded", open ? "true" : "false");
    this.stream.inert = open && PHONE.matches;
    if (open) {
      for (const id of [...this.unread.keys()]) this.seen(id);
      this.side.el.focus({ preventScroll: true });
    } else if (was) {
      this.drawerButton.focus({ preventScroll: true });
    }
  }
}
