// A live group session, put together: the room's header (its name, the connection's
// status, the group button, Leave), its socket, and what each frame does — a snapshot
// builds the model and the screen, an event moves the model on and is shown, a notice
// reaches whoever it concerns. The parts are modules of their own: the conversation
// (messages.js), the dock (composer.js), the group panel (side.js), the facilitators'
// tools and signals (tools.js, signals.js), the dialogs (dialogs.js), the banner
// (banner.js), how events show (events.js) and the screens around the room (screens.js).
import { clearToasts, resetTitle } from "../../alerts.js";
import { announce, h, replace } from "../../dom.js";
import { Room } from "../../model.js";
import { RoomSocket } from "../../socket.js";
import { refusal, strings } from "../../strings.js";
import { Banner } from "./banner.js";
import { Composer } from "./composer.js";
import { showEvent } from "./events.js";
import { Messages } from "./messages.js";
import * as screens from "./screens.js";
import { Side } from "./side.js";
import { Signals } from "./signals.js";
import { Tools } from "./tools.js";

const S = strings.room;
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
    this.closedForGood = false; // signed out, or opened elsewhere: no "Reconnecting…"
    this.roomEl = null; // the room itself, while it is the screen shown
    this.farewell = null; // the farewell card, once the session is over for this person
    this.summary = null; // the facilitators' end-of-session summary, when it comes
    this.socket = new RoomSocket(roomId);
    this.signals = new Signals(this);
    this.tools = new Tools(this);
    this.title = h("h1", {}, S.joining);
    this.status = h("p", { class: "conn", role: "status", hidden: true });
    this.drawerButton = h("button", {
      type: "button", class: "small secondary drawer-toggle", "aria-expanded": "false", "aria-controls": "group-panel",
      hidden: true, onclick: () => this.toggleDrawer(),
    }, S.group, " ", this.signals.badge, this.signals.badgeWords);
    this.leaveButton = h("button", { type: "button", class: "small secondary", onclick: () => this.leave() }, S.leave);
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
    const text = ended ? S.sessionEnded
      : this.connected || this.closedForGood ? ""
        : this.unreachable ? S.unreachable : S.reconnecting;
    this.status.textContent = text;
    this.status.hidden = !text;
    this.status.classList.toggle("offline", !this.connected && !ended);
  }

  /** A refusal in this app's words, naming whom it can from the room (see strings.js). */
  said(error) {
    if (!this.model) return error.message;
    return refusal(error.code, { ...error.detail, ...this.model.context }, error.said || error.message);
  }

  /** Run a command; a refusal is said aloud and shown where the composer explains. */
  async command(type, fields = {}) {
    try {
      return await this.socket.send(type, fields);
    } catch (e) {
      const said = this.said(e);
      announce(said, { assertive: true });
      const why = document.getElementById("compose-why");
      if (why) why.textContent = said;
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
    if (first) announce(S.joined(s.room.name));
  }

  onEvent(ev) {
    const m = this.model;
    if (!m) return;
    m.apply(ev);
    if (ev.type === "session_ended") {
      this.showFarewell(S.ended);
      return;
    }
    if (!this.roomEl) return;
    showEvent(this, ev);
    this.renderState();
  }

  onResumed(reply) {
    this.model?.resumed(reply);
    if (this.roomEl) this.renderState();
    announce(S.reconnected);
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
    if (n.type === "whisper") this.signals.whisper(n);
    if (n.type === "arrival") this.signals.arrival(n);
    if (n.type === "arrival_left") this.signals.seen(`arrival-${n.user_id}`);
    if (!this.roomEl) return;
    if (n.type === "post_state") this.composer.render();
    else this.side.render();
  }

  onService(frame) {
    this.service.hidden = frame.available;
    this.service.textContent = frame.available ? "" : frame.message;
    announce(frame.message);
  }

  // -- screens --------------------------------------------------------------

  showWelcome() {
    this.roomEl = null;
    this.drawerButton.hidden = true;
    const error = h("p", { class: "error", role: "alert" });
    const choose = async (mode) => {
      try {
        await this.socket.send("agree");
        if (mode === "sharer") await this.socket.send("set_mode", { mode });
        this.showRoom();
        const input = this.composer.parts.input;
        if (mode === "sharer" && !input.disabled) input.focus();
        else this.messages.list.focus();
      } catch (e) {
        error.textContent = this.said(e);
      }
    };
    replace(this.area, screens.welcome(this.model.room, choose, error));
  }

  showWaiting(reply) {
    this.roomEl = null;
    replace(this.area, screens.waiting(reply.message));
  }

  showFarewell(message, resourcesHtml) {
    this.roomEl = null;
    this.leaveButton.hidden = true;
    this.drawerButton.hidden = true;
    this.toggleDrawer(false);
    this.showStatus();
    this.farewell = screens.farewell(message, resourcesHtml);
    replace(this.area, this.farewell);
    this.showSummary();
    announce(message);
    this.farewell.querySelector("h2").focus({ preventScroll: true });
  }

  showSummary() {
    if (this.summary && this.farewell) this.farewell.append(screens.summary(this.summary, this.roomId));
  }

  showRefused(error) {
    this.title.textContent = strings.refused.title;
    const said = this.said(error);
    if (error.code === "name_confusable" || error.code === "name_reserved") {
      replace(this.area, screens.rename(said, async (name) => {
        await this.app.rename(name);
        this.app.go(`/room/${encodeURIComponent(this.roomId)}`);
      }));
      return;
    }
    replace(this.area, screens.refused(said));
  }

  showClosed({ code }) {
    this.closedForGood = true;
    this.setConnected(false);
    const reopen = () => this.app.go(`/room/${encodeURIComponent(this.roomId)}`);
    replace(this.area, screens.closed(code, reopen));
  }

  showRoom() {
    this.messages?.destroy();
    this.messages = new Messages(this);
    this.composer = new Composer(this);
    this.side = new Side(this);
    this.banner = new Banner();
    this.stream = h("section", { class: "stream", "aria-label": S.conversation }, this.banner.el, this.messages.el, this.composer.el);
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
    this.banner.render(this.model);
    this.side.render();
    this.composer.render();
    this.showStatus();
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
      this.signals.seenAll();
      this.side.el.focus({ preventScroll: true });
    } else if (was) {
      this.drawerButton.focus({ preventScroll: true });
    }
  }
}
