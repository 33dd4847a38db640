// The facilitators' tools, grouped by what they act on: one person (the floor, a private
// word, a mute, a removal) and the session (turns, pausing, slow mode, the door, the
// waiting room, ending it), and letting someone in. Each asks what it needs in a dialog
// (dialogs.js), then sends its command; the room's events show what came of it.
import { announce, h } from "../../dom.js";
import { strings } from "../../strings.js";
import * as dialogs from "./dialogs.js";

const T = strings.tools;

export class Tools {
  constructor(view) {
    this.view = view;
  }

  get model() {
    return this.view.model;
  }

  command(type, fields) {
    return this.view.command(type, fields);
  }

  // -- one person ---------------------------------------------------------------------

  /** The actions for member `p`, opened from their line in the group panel. */
  forPerson(p) {
    const m = this.model;
    const b = (key, label, onclick, cls = "small") => h("button", { type: "button", class: cls, dataset: { key: `${key}-${p.user_id}` }, onclick }, label);
    return h("div", { class: "person-tools", role: "group", "aria-label": T.actionsFor(p.name) },
      m.round || m.floor === p.user_id ? null : b("floor", T.giveFloor(p.name), () => this.command("give_floor", { user: p.user_id })),
      b("reply", T.whisper(p.name), () => this.reply({ user_id: p.user_id, name: p.name })),
      p.muted ? b("unmute", T.unmute(p.name), () => this.command("unmute", { user: p.user_id }))
        : b("mute", T.mute(p.name), () => this.mute(p)),
      b("remove", T.remove(p.name), () => this.remove(p), "small danger"));
  }

  /** Answer `w` privately: a whisper, or a person written to first. */
  async reply(w) {
    const text = await dialogs.reply(w, this.model.limits.whisper);
    if (!text) return;
    const sent = await this.command("whisper_reply", { user: w.user_id, text });
    if (sent) {
      this.view.signals.seen(`whisper-${w.user_id}`);
      announce(strings.signals.sent(w.name));
    }
  }

  async admit(w) {
    const reply = await this.command("admit", { user: w.user_id });
    if (reply) this.view.signals.seen(`arrival-${w.user_id}`);
  }

  async mute(p) {
    const fields = await dialogs.mute(p);
    if (fields) await this.command("mute", { user: p.user_id, ...fields });
  }

  async remove(p) {
    const fields = await dialogs.remove(p);
    if (fields) await this.command("remove", { user: p.user_id, ...fields });
  }

  // -- the session ----------------------------------------------------------------------

  /** The toolbox at the foot of the group panel. */
  panel() {
    const m = this.model;
    const s = m.session;
    const b = (key, label, onclick, cls = "") => h("button", { type: "button", class: cls, dataset: { key }, onclick }, label);
    const toggle = (key, label, on, onclick) => h("button", {
      type: "button", class: "switch", role: "switch", "aria-checked": on ? "true" : "false", dataset: { key }, onclick,
    }, label, h("span", { class: "state", "aria-hidden": "true" }, on ? T.on : T.off));
    const next = m.hands[0];
    return h("section", { class: "panel toolbox", "aria-labelledby": "tools-h" },
      h("h3", { id: "tools-h" }, T.title),
      h("h4", {}, T.turns),
      h("div", { class: "tool-grid" },
        m.round ? null : b("start-round", T.startRound, () => this.startRound()),
        next && !m.round ? b("give-floor", T.giveFloorNext(m.name(next)), () => this.command("give_floor")) : null,
        m.hands.length ? b("clear-hands", T.clearHands, () => this.command("clear_hands")) : null,
        b("balance", T.balance, () => this.balance())),
      h("h4", {}, T.session),
      h("div", { class: "tool-grid" },
        s.paused && s.pause_reason === "facilitator" ? b("resume", T.resume, () => this.command("resume"), "primary")
          : b("pause", T.pause, () => this.pause()),
        b("slow", s.slow_mode ? T.slowOff : T.slowOn, () => this.slowMode()),
        toggle("door", T.door, s.locked, () => this.command(s.locked ? "unlock" : "lock")),
        toggle("waiting-room", T.waitingRoom, s.waiting_room, () => this.command("set_waiting_room", { on: !s.waiting_room })),
        h("a", { class: "button", href: `#/manage/${encodeURIComponent(m.room.id)}` }, strings.common.settingsAndRecord),
        b("end", T.end, () => this.endSession(), "danger")));
  }

  async pause() {
    const fields = await dialogs.pause();
    if (fields) await this.command("pause", fields);
  }

  async startRound() {
    const fields = await dialogs.startRound();
    if (fields) await this.command("start_round", fields);
  }

  async slowMode() {
    if (this.model.session.slow_mode) {
      await this.command("slow_mode", { seconds: 0 });
      return;
    }
    const fields = await dialogs.slowMode();
    if (fields) await this.command("slow_mode", fields);
  }

  async balance() {
    const reply = await this.command("balance");
    if (reply) await dialogs.balance(reply);
  }

  async endSession() {
    if (await dialogs.endSession()) await this.command("end_session");
  }
}
