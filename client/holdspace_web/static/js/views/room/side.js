// The group: who is here, the round and the floor, a member's private thread with the
// facilitators, and — for facilitators — what needs them (people waiting, whispers) and
// their tools (tools.js). A column beside the conversation on a wide screen; a panel
// opened from the room's header on a phone.
import { avatar, h, rebuild, time } from "../../dom.js";
import { pref, setPref } from "../../prefs.js";
import { kindName, outcomeName, roleLabel, strings } from "../../strings.js";

const S = strings.side;

export class Side {
  constructor(view) {
    this.view = view;
    this.open = null; // the person whose actions are showing
    this.body = h("div", { class: "side-body" });
    this.closeButton = h("button", { type: "button", class: "small secondary drawer-close", onclick: () => view.toggleDrawer(false) }, S.close);
    this.el = h("aside", { class: "side", id: "group-panel", "aria-labelledby": "side-h", tabindex: "-1" },
      h("div", { class: "side-head" }, h("h2", { id: "side-h" }, S.title), this.closeButton),
      this.body);
  }

  get model() {
    return this.view.model;
  }

  render() {
    const m = this.model;
    const parts = [this.round(), this.floor()];
    if (m.staff) parts.push(this.waitingList(), this.whisperList());
    else parts.push(this.thread());
    parts.push(this.people());
    if (m.staff) parts.push(this.view.tools.panel());
    parts.push(this.preferences());
    rebuild(this.body, parts, () => this.el);
  }

  // -- the round and the floor ---------------------------------------------------

  round() {
    const m = this.model;
    const r = m.round;
    if (!r) return m.staff ? this.lastRound() : null;
    const outcome = (u) => {
      const said = r.outcomes[u];
      if (!said) return "";
      if (!m.staff && u !== m.you.user_id && said !== "done") return ""; // passing costs nothing
      return S.outcome(outcomeName(said));
    };
    const holder = r.holder ? (r.holder === m.you.user_id ? S.yourTurn : S.sharing(m.name(r.holder))) : S.passingOn;
    return h("section", { class: "panel", "aria-labelledby": "round-h" },
      h("h3", { id: "round-h" }, kindName(r.kind)),
      h("p", { class: "prompt" }, r.prompt),
      r.second_chance ? h("p", {}, S.secondChance) : null,
      h("p", { class: "holder" }, holder),
      h("ol", { class: "order", "aria-label": S.order }, r.order.map((u) => h("li", {},
        m.name(u), outcome(u), u === r.holder ? S.sharingNow : ""))),
      m.staff ? h("div", { class: "actions" },
        r.holder ? h("button", { type: "button", class: "small", dataset: { key: "skip" }, onclick: () => this.view.command("skip_turn") }, S.skip(m.name(r.holder))) : null,
        h("button", { type: "button", class: "small secondary", dataset: { key: "end-round" }, onclick: () => this.view.command("end_round") }, S.endRound)) : null);
  }

  lastRound() {
    const last = this.model.lastRound;
    if (!last) return null;
    const m = this.model;
    return h("section", { class: "panel", "aria-labelledby": "last-h" },
      h("h3", { id: "last-h" }, S.roundEnded(kindName(last.kind))),
      h("p", { class: "hint" }, S.onlyStaffSeePasses),
      h("ul", {}, last.summary.map((s) => h("li", {},
        S.lastTurn(m.name(s.user_id), outcomeName(s.outcome), s.second_chance ? outcomeName(s.second_chance) : null)))));
  }

  floor() {
    const m = this.model;
    if (!m.floor) return null;
    return h("section", { class: "panel", "aria-labelledby": "floor-h" },
      h("h3", { id: "floor-h" }, S.floor),
      h("p", {}, m.floor === m.you.user_id ? S.youHaveFloor : S.hasFloor(m.name(m.floor))),
      m.staff ? h("div", { class: "actions" },
        h("button", { type: "button", class: "small", dataset: { key: "end-floor" }, onclick: () => this.view.command("end_floor") }, S.openFloor)) : null);
  }

  // -- what needs a facilitator ---------------------------------------------------------

  waitingList() {
    const m = this.model;
    if (!m.waiting.length) return null;
    return h("section", { class: "panel alert-panel", "aria-labelledby": "waiting-h" },
      h("h3", { id: "waiting-h" }, S.waiting(m.waiting.length)),
      h("ul", { class: "waiting" }, m.waiting.map((w) => h("li", {},
        h("span", {}, w.name, " "),
        w.place === "door"
          ? h("span", { class: "hint" }, S.atDoor)
          : h("span", { class: "actions" },
            h("button", { type: "button", class: "small primary", dataset: { key: `admit-${w.user_id}` }, onclick: () => this.view.tools.admit(w) }, S.admit(w.name)),
            h("button", { type: "button", class: "small", dataset: { key: `decline-${w.user_id}` }, onclick: () => this.view.command("decline", { user: w.user_id }) }, S.decline(w.name)))))));
  }

  whisperList() {
    const m = this.model;
    const lines = m.whispers.slice().reverse();
    const fresh = this.view.signals.fresh("whisper-");
    return h("section", { class: `panel${fresh ? " alert-panel" : ""}`, "aria-labelledby": "whispers-h" },
      h("h3", { id: "whispers-h" }, S.whispers(m.whispers.filter((w) => !w.by).length),
        fresh ? h("span", { class: "count-badge" }, S.fresh(fresh)) : null),
      lines.length
        ? h("ul", { class: "whispers" }, lines.map((w) => h("li", { class: w.by ? "answer" : "" },
          h("p", { class: "meta" }, h("span", { class: "name" }, w.by ? S.answered(w.by_name, w.name) : w.name), " ", time(w.at)),
          h("p", { class: "text" }, w.text === null ? S.needsMoment : w.text),
          w.by ? null : h("button", { type: "button", class: "small", dataset: { key: `reply-${w.id}` }, onclick: () => this.view.tools.reply(w) }, S.replyTo(w.name)))))
        : h("p", { class: "hint" }, S.noWhispers));
  }

  thread() {
    const m = this.model;
    return h("section", { class: "panel", "aria-labelledby": "thread-h" },
      h("h3", { id: "thread-h" }, S.thread),
      h("p", { class: "hint" }, S.threadHint),
      m.whispers.length ? h("ul", { class: "whispers" }, m.whispers.map((w) => h("li", { class: w.by ? "answer" : "" },
        h("p", { class: "meta" }, h("span", { class: "name" }, w.by ? w.by_name : S.you), " ", time(w.at)),
        h("p", { class: "text" }, w.text === null ? S.myMoment : w.text)))) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "small", dataset: { key: "write" }, onclick: () => this.view.composer.whisper() }, S.write)));
  }

  // -- people -----------------------------------------------------------------------

  people() {
    const m = this.model;
    const people = [...m.participants.values()];
    return h("section", { class: "panel", "aria-labelledby": "people-h" },
      h("h3", { id: "people-h" }, S.here(people.length)),
      h("ul", { class: "people" }, people.map((p) => this.person(p))));
  }

  person(p) {
    const m = this.model;
    const badge = roleLabel(p.role);
    const states = [
      p.role !== "member" ? null : p.mode === "sharer" ? S.sharer : S.listener,
      p.away ? S.away : null,
      p.muted ? S.muted : null,
      m.floor === p.user_id ? S.hasTheFloor : null,
      m.hands.includes(p.user_id) ? S.hand(m.hands.indexOf(p.user_id) + 1) : null,
    ].filter(Boolean);
    const actionable = m.staff && p.role === "member" && p.user_id !== m.you.user_id;
    const open = this.open === p.user_id;
    return h("li", { class: "person" },
      avatar(p.name, p.user_id),
      h("span", { class: "who" },
        h("span", { class: "name" }, p.name, p.user_id === m.you.user_id ? S.youMark : ""),
        badge ? h("span", { class: "badge" }, badge) : null,
        states.length ? h("span", { class: "states" }, states.join(" · ")) : null),
      actionable ? h("button", {
        type: "button", class: "small secondary", "aria-expanded": open ? "true" : "false",
        dataset: { key: `act-${p.user_id}` }, onclick: () => { this.open = open ? null : p.user_id; this.render(); },
      }, h("span", { class: "visually-hidden" }, S.actionsOf(p.name)), S.actions) : null,
      actionable && open ? this.view.tools.forPerson(p) : null);
  }

  // -- this device ----------------------------------------------------------------------

  preferences() {
    const m = this.model;
    const check = (key, label, hint) => h("label", { class: "check pref" },
      h("input", { type: "checkbox", checked: pref(key), dataset: { key: `pref-${key}` }, onchange: (e) => setPref(key, e.target.checked) }),
      ` ${label}`, hint ? h("span", { class: "hint" }, ` ${hint}`) : null);
    return h("section", { class: "panel", "aria-labelledby": "prefs-h" },
      h("h3", { id: "prefs-h" }, S.device),
      check("enterSends", S.enterSends, S.enterSendsHint),
      m.staff ? check("sound", S.sound) : null);
  }
}
