// What a facilitator must not miss — someone waiting to come in, a whisper — as a toast
// in the first screen, the tab title's count, the badge on the group button and (if they
// chose it) a chime, until they have seen it. A member's side of a whisper, answered
// privately, comes as a toast too.
import { chime, setUnread, toast } from "../../alerts.js";
import { announce, h } from "../../dom.js";
import { strings } from "../../strings.js";

const S = strings.signals;

export class Signals {
  constructor(view) {
    this.view = view;
    this.unread = new Map(); // signals not seen yet: id ("arrival-<user>", "whisper-<user>") -> toast
    this.badge = h("span", { class: "count-badge", hidden: true });
    this.badgeWords = h("span", { class: "visually-hidden", hidden: true }, strings.room.newCount);
  }

  get model() {
    return this.view.model;
  }

  /** A `whisper` notice: to a member, a facilitator's answer; to facilitators, a member's
   * whisper (to answer) or a colleague's answer (so it's seen). */
  whisper(n) {
    const m = this.model;
    if (!m.staff) {
      if (n.by) {
        toast(S.answer(n.by_name, n.text), [], { kind: "private" });
        announce(S.answerSay(n.by_name, n.text), { assertive: true });
      }
      return;
    }
    if (n.by) {
      if (n.by !== m.you.user_id) this.seen(`whisper-${n.user_id}`); // a colleague answered
      return;
    }
    const what = n.text === null ? S.moment(n.name) : S.whisper(n.name, n.text);
    this.signal(`whisper-${n.user_id}`, what, [[S.reply, () => this.view.tools.reply(n), "primary"]]);
  }

  /** An `arrival` notice: someone at the door, or in the waiting room to admit or decline. */
  arrival(n) {
    const what = n.place === "door" ? S.atDoor(n.name) : S.waiting(n.name);
    const actions = n.place === "waiting_room"
      ? [[S.admit, () => this.view.tools.admit(n), "primary"], [S.decline, () => this.view.command("decline", { user: n.user_id })]]
      : [];
    this.signal(`arrival-${n.user_id}`, what, actions);
  }

  signal(id, text, actions) {
    this.unread.get(id)?.remove();
    const el = toast(text, actions, { kind: "alert", onClose: () => this.seen(id, false) });
    this.unread.set(id, el);
    announce(text, { assertive: true });
    chime();
    this.show();
  }

  /** Signal `id` has been seen (or no longer matters): its toast goes, the counts drop. */
  seen(id, closeToast = true) {
    const el = this.unread.get(id);
    if (!el) return;
    this.unread.delete(id);
    if (closeToast) el.remove();
    this.show();
  }

  /** The group panel was opened: everything in it has been seen. */
  seenAll() {
    for (const id of [...this.unread.keys()]) this.seen(id);
  }

  /** How many unseen signals start with `prefix` ("whisper-"). */
  fresh(prefix) {
    return [...this.unread.keys()].filter((id) => id.startsWith(prefix)).length;
  }

  show() {
    const count = this.unread.size;
    setUnread(count);
    this.badge.hidden = this.badgeWords.hidden = !count;
    this.badge.textContent = count ? String(count) : "";
    if (this.view.roomEl) this.view.side.render();
  }
}
