// The group: who is here, the round, and — for facilitators — what needs them (people
// waiting, whispers) and their tools, grouped by what they act on: the round, a person,
// the session. A column beside the conversation on a wide screen; a panel opened from
// the room's header on a phone.
import { ask, avatar, field, h, rebuild, show, time } from "../../dom.js";
import { pref, setPref } from "../../prefs.js";
import { KINDS, OUTCOMES, kindName, roleLabel } from "./words.js";

export class Side {
  constructor(view) {
    this.view = view;
    this.open = null; // the person whose actions are showing
    this.body = h("div", { class: "side-body" });
    this.closeButton = h("button", { type: "button", class: "small secondary drawer-close", onclick: () => view.toggleDrawer(false) }, "Close");
    this.el = h("aside", { class: "side", id: "group-panel", "aria-labelledby": "side-h", tabindex: "-1" },
      h("div", { class: "side-head" }, h("h2", { id: "side-h" }, "The group"), this.closeButton),
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
    if (m.staff) parts.push(this.sessionTools());
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
      return ` — ${OUTCOMES[said] || said}`;
    };
    const holder = r.holder ? (r.holder === m.you.user_id ? "It's your turn." : `${m.name(r.holder)} is sharing.`) : "Passing the piece on…";
    return h("section", { class: "panel", "aria-labelledby": "round-h" },
      h("h3", { id: "round-h" }, kindName(r.kind)),
      h("p", { class: "prompt" }, r.prompt),
      r.second_chance ? h("p", {}, "Another chance for anyone who passed.") : null,
      h("p", { class: "holder" }, holder),
      h("ol", { class: "order", "aria-label": "Order" }, r.order.map((u) => h("li", {},
        m.name(u), outcome(u), u === r.holder ? " — sharing now" : ""))),
      m.staff ? h("div", { class: "actions" },
        r.holder ? h("button", { type: "button", class: "small", dataset: { key: "skip" }, onclick: () => this.view.command("skip_turn") }, `Skip ${m.name(r.holder)}'s turn`) : null,
        h("button", { type: "button", class: "small secondary", dataset: { key: "end-round" }, onclick: () => this.view.command("end_round") }, "End round")) : null);
  }

  lastRound() {
    const last = this.model.lastRound;
    if (!last) return null;
    const m = this.model;
    return h("section", { class: "panel", "aria-labelledby": "last-h" },
      h("h3", { id: "last-h" }, `${kindName(last.kind)} has ended`),
      h("p", { class: "hint" }, "Only facilitators see who passed."),
      h("ul", {}, last.summary.map((s) => h("li", {},
        `${m.name(s.user_id)}: ${OUTCOMES[s.outcome] || s.outcome}${s.second_chance ? `, then ${OUTCOMES[s.second_chance] || s.second_chance}` : ""}`))));
  }

  floor() {
    const m = this.model;
    if (!m.floor) return null;
    return h("section", { class: "panel", "aria-labelledby": "floor-h" },
      h("h3", { id: "floor-h" }, "The floor"),
      h("p", {}, m.floor === m.you.user_id ? "You have the floor." : `${m.name(m.floor)} has the floor.`),
      m.staff ? h("div", { class: "actions" },
        h("button", { type: "button", class: "small", dataset: { key: "end-floor" }, onclick: () => this.view.command("end_floor") }, "Open the floor again")) : null);
  }

  // -- what needs a facilitator ---------------------------------------------------------

  waitingList() {
    const m = this.model;
    if (!m.waiting.length) return null;
    return h("section", { class: "panel alert-panel", "aria-labelledby": "waiting-h" },
      h("h3", { id: "waiting-h" }, `Waiting to come in (${m.waiting.length})`),
      h("ul", { class: "waiting" }, m.waiting.map((w) => h("li", {},
        h("span", {}, w.name, " "),
        w.place === "door"
          ? h("span", { class: "hint" }, "at the door: comes in when the share ends")
          : h("span", { class: "actions" },
            h("button", { type: "button", class: "small primary", dataset: { key: `admit-${w.user_id}` }, onclick: () => this.view.admit(w) }, `Admit ${w.name}`),
            h("button", { type: "button", class: "small", dataset: { key: `decline-${w.user_id}` }, onclick: () => this.view.command("decline", { user: w.user_id }) }, `Decline ${w.name}`))))));
  }

  whisperList() {
    const m = this.model;
    const lines = m.whispers.slice().reverse();
    const fresh = [...this.view.unread.keys()].filter((id) => id.startsWith("whisper-")).length;
    return h("section", { class: `panel${fresh ? " alert-panel" : ""}`, "aria-labelledby": "whispers-h" },
      h("h3", { id: "whispers-h" }, `Whispers (${m.whispers.filter((w) => !w.by).length})`,
        fresh ? h("span", { class: "count-badge" }, `${fresh} new`) : null),
      lines.length
        ? h("ul", { class: "whispers" }, lines.map((w) => h("li", { class: w.by ? "answer" : "" },
          h("p", { class: "meta" }, h("span", { class: "name" }, w.by ? `${w.by_name} to ${w.name}` : w.name), " ", time(w.at)),
          h("p", { class: "text" }, w.text === null ? "needs a moment" : w.text),
          w.by ? null : h("button", { type: "button", class: "small", dataset: { key: `reply-${w.id}` }, onclick: () => this.view.reply(w) }, `Reply to ${w.name}`))))
        : h("p", { class: "hint" }, "No whispers yet. Members can ask for a moment, privately, at any time."));
  }

  thread() {
    const m = this.model;
    return h("section", { class: "panel", "aria-labelledby": "thread-h" },
      h("h3", { id: "thread-h" }, "You and the facilitators"),
      h("p", { class: "hint" }, "Private: nobody else sees these, and nothing appears in the room."),
      m.whispers.length ? h("ul", { class: "whispers" }, m.whispers.map((w) => h("li", { class: w.by ? "answer" : "" },
        h("p", { class: "meta" }, h("span", { class: "name" }, w.by ? w.by_name : "You"), " ", time(w.at)),
        h("p", { class: "text" }, w.text === null ? "I need a moment." : w.text)))) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "small", dataset: { key: "write" }, onclick: () => this.view.composer.whisper() }, "Write to the facilitators…")));
  }

  // -- people -----------------------------------------------------------------------

  people() {
    const m = this.model;
    const people = [...m.participants.values()];
    return h("section", { class: "panel", "aria-labelledby": "people-h" },
      h("h3", { id: "people-h" }, `Here (${people.length})`),
      h("ul", { class: "people" }, people.map((p) => this.person(p))));
  }

  person(p) {
    const m = this.model;
    const badge = roleLabel(p.role);
    const states = [
      p.role !== "member" ? null : p.mode === "sharer" ? "sharing" : "listening",
      p.away ? "away" : null,
      p.muted ? "muted" : null,
      m.floor === p.user_id ? "has the floor" : null,
      m.hands.includes(p.user_id) ? `hand raised (${m.hands.indexOf(p.user_id) + 1})` : null,
    ].filter(Boolean);
    const actionable = m.staff && p.role === "member" && p.user_id !== m.you.user_id;
    const open = this.open === p.user_id;
    return h("li", { class: "person" },
      avatar(p.name, p.user_id),
      h("span", { class: "who" },
        h("span", { class: "name" }, p.name, p.user_id === m.you.user_id ? " (you)" : ""),
        badge ? h("span", { class: "badge" }, badge) : null,
        states.length ? h("span", { class: "states" }, states.join(" · ")) : null),
      actionable ? h("button", {
        type: "button", class: "small secondary", "aria-expanded": open ? "true" : "false",
        dataset: { key: `act-${p.user_id}` }, onclick: () => { this.open = open ? null : p.user_id; this.render(); },
      }, h("span", { class: "visually-hidden" }, `${p.name}: `), "Actions") : null,
      actionable && open ? this.personTools(p) : null);
  }

  personTools(p) {
    const m = this.model;
    const b = (key, label, onclick, cls = "small") => h("button", { type: "button", class: cls, dataset: { key: `${key}-${p.user_id}` }, onclick }, label);
    return h("div", { class: "person-tools", role: "group", "aria-label": `Actions for ${p.name}` },
      m.round || m.floor === p.user_id ? null : b("floor", `Give ${p.name} the floor`, () => this.view.command("give_floor", { user: p.user_id })),
      b("reply", `Whisper to ${p.name}`, () => this.view.reply({ user_id: p.user_id, name: p.name })),
      p.muted ? b("unmute", `Unmute ${p.name}`, () => this.view.command("unmute", { user: p.user_id }))
        : b("mute", `Mute ${p.name}`, () => this.mute(p)),
      b("remove", `Remove ${p.name}`, () => this.remove(p), "small danger"));
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
    await this.view.command("mute", fields);
  }

  async remove(p) {
    const data = await ask(`Remove ${p.name} from this session?`, [
      h("p", {}, "They'll be shown a kind message and crisis resources."),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "bar", value: "yes" }), " Also bar them from future sessions"),
      field("Reason (optional, for the moderation record)", h("input", { name: "reason", maxlength: 200 })),
    ], { submit: "Remove", danger: true });
    if (!data) return;
    await this.view.command("remove", { user: p.user_id, bar: data.bar === "yes", ...(data.reason ? { reason: data.reason } : {}) });
  }

  // -- the session --------------------------------------------------------------------

  sessionTools() {
    const m = this.model;
    const s = m.session;
    const b = (key, label, onclick, cls = "") => h("button", { type: "button", class: cls, dataset: { key }, onclick }, label);
    const toggle = (key, label, on, onclick) => h("button", {
      type: "button", class: "switch", role: "switch", "aria-checked": on ? "true" : "false", dataset: { key }, onclick,
    }, label, h("span", { class: "state", "aria-hidden": "true" }, on ? "On" : "Off"));
    const next = m.hands[0];
    return h("section", { class: "panel toolbox", "aria-labelledby": "tools-h" },
      h("h3", { id: "tools-h" }, "Facilitator tools"),
      h("h4", {}, "Turns"),
      h("div", { class: "tool-grid" },
        m.round ? null : b("start-round", "Start a round…", () => this.startRound()),
        next && !m.round ? b("give-floor", `Give the floor to ${m.name(next)}`, () => this.view.command("give_floor")) : null,
        m.hands.length ? b("clear-hands", "Lower all hands", () => this.view.command("clear_hands")) : null,
        b("balance", "Participation balance", () => this.balance())),
      h("h4", {}, "The session"),
      h("div", { class: "tool-grid" },
        s.paused && s.pause_reason === "facilitator" ? b("resume", "Resume the group", () => this.view.command("resume"), "primary")
          : b("pause", "Pause…", () => this.pause()),
        b("slow", s.slow_mode ? "Turn off slow mode" : "Slow mode…", () => this.slowMode()),
        toggle("door", "Door locked", s.locked, () => this.view.command(s.locked ? "unlock" : "lock")),
        toggle("waiting-room", "Waiting room", s.waiting_room, () => this.view.command("set_waiting_room", { on: !s.waiting_room })),
        h("a", { class: "button", href: `#/manage/${encodeURIComponent(m.room.id)}` }, "Group settings and record"),
        b("end", "End the session…", () => this.endSession(), "danger")));
  }

  async pause() {
    const data = await ask("Pause the group", [
      field("A message for everyone (optional)", h("input", { name: "message", maxlength: 200, value: "Let's take a breath together." })),
    ], { submit: "Pause" });
    if (data) await this.view.command("pause", data.message ? { message: data.message } : {});
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
    await this.view.command("start_round", fields);
  }

  async slowMode() {
    if (this.model.session.slow_mode) {
      await this.view.command("slow_mode", { seconds: 0 });
      return;
    }
    const data = await ask("Slow mode", [
      field("Seconds between a member's messages", h("input", { name: "seconds", type: "number", min: 5, max: 600, value: 30 })),
    ], { submit: "Turn on" });
    if (data) await this.view.command("slow_mode", { seconds: Number(data.seconds) });
  }

  async balance() {
    const reply = await this.view.command("balance");
    if (!reply) return;
    const rows = (reply.members || []).map((row) =>
      h("li", {}, `${row.name || "Someone who left"}${row.present ? "" : " (left)"}: ${row.posts} messages, ${row.turns} turns shared, ${row.passes} passes`));
    await show("Participation balance", rows.length ? h("ul", {}, rows) : h("p", {}, "Nobody has shared yet."));
  }

  async endSession() {
    const data = await ask("End this session for everyone?", [h("p", {}, "Everyone will be thanked and the room will close until the next session.")],
      { submit: "End the session", danger: true });
    if (data) await this.view.command("end_session");
  }

  // -- this device ----------------------------------------------------------------------

  preferences() {
    const m = this.model;
    const check = (key, label, hint) => h("label", { class: "check pref" },
      h("input", { type: "checkbox", checked: pref(key), dataset: { key: `pref-${key}` }, onchange: (e) => setPref(key, e.target.checked) }),
      ` ${label}`, hint ? h("span", { class: "hint" }, ` ${hint}`) : null);
    return h("section", { class: "panel", "aria-labelledby": "prefs-h" },
      h("h3", { id: "prefs-h" }, "On this device"),
      check("enterSends", "Enter sends my message", "(Shift+Enter starts a new line)"),
      m.staff ? check("sound", "Sound for whispers and arrivals") : null);
  }
}
