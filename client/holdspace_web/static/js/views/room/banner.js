// The lines above the conversation that say what state the room is in — not started
// yet, paused, your messages paused, the door closed, slow mode, the waiting room — for
// as long as it lasts. (What just happened is a note in the conversation: events.js.)
import { clock, h, replace } from "../../dom.js";
import { strings } from "../../strings.js";

const B = strings.banner;
const N = strings.notes;

export class Banner {
  constructor() {
    this.el = h("div", { class: "banner", role: "status" });
  }

  render(m) {
    const s = m.session;
    const lines = [];
    if (s.phase !== "live") lines.push(B.startsAt(clock(s.starts_at)));
    if (s.paused) lines.push(s.pause_reason === "no_facilitator" ? N.pausedNoFacilitator : N.paused(s.pause_message));
    if (m.me.muted) lines.push(m.me.muted_until ? B.mutedUntil(clock(m.me.muted_until)) : B.muted);
    if (s.locked) lines.push(B.locked);
    if (s.slow_mode) lines.push(B.slowMode(s.slow_mode));
    if (m.staff && s.waiting_room) lines.push(B.waitingRoom);
    replace(this.el, lines.map((line) => h("p", {}, line)));
    this.el.hidden = !lines.length;
  }
}
