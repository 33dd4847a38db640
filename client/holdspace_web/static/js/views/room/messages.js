// The conversation: messages as a calm chat — initials, one name line per run of
// messages from the same person, the author's role beside their name (no display name
// can fake it), content warnings folded, and one "React" button per message that opens
// the three reactions (and, for those allowed, who reacted and removing the text).
import { announce, avatar, h, rebuild, replace, time } from "../../dom.js";
import { REACTIONS } from "../../model.js";
import { roleLabel, strings } from "../../strings.js";
import * as dialogs from "./dialogs.js";

const S = strings.conversation;
const LABELS = strings.words.reactions;

const RUN_SECONDS = 5 * 60; // a message this soon after the same person's continues their run

function seconds(at) {
  return (typeof at === "number" ? at * 1000 : Date.parse(at)) / 1000;
}

export class Messages {
  constructor(view) {
    this.view = view;
    this.list = h("ol", { class: "messages", tabindex: "-1", "aria-label": S.label });
    this.empty = h("li", { class: "empty" }, h("p", {}, S.empty), h("p", {}, S.emptyWelcome));
    this.newer = h("button", { type: "button", class: "newer small", hidden: true, onclick: () => this.scrollDown() }, S.newer);
    this.scroller = h("div", { class: "scroller" }, this.list);
    this.scroller.addEventListener("scroll", () => {
      if (this.nearBottom()) this.newer.hidden = true;
    });
    this.el = h("div", { class: "conversation" }, this.scroller, this.newer);
    this.open = null; // the message whose reactions are open
    // A click elsewhere closes the open reactions (a click that rebuilt its own button
    // has a target no longer in the page: that was this message's own control).
    this.onOutside = (e) => {
      if (this.open !== null && e.target.isConnected && !e.target.closest(`li[data-id="${this.open}"]`)) {
        this.closePicker(false);
      }
    };
    document.addEventListener("click", this.onOutside);
  }

  get model() {
    return this.view.model;
  }

  destroy() {
    document.removeEventListener("click", this.onOutside);
  }

  render() {
    replace(this.list);
    for (const msg of this.model.messages) this.list.append(this.item(msg));
    this.showEmpty();
    this.scrollDown();
  }

  showEmpty() {
    const hasAny = this.list.querySelector("li.message, li.note");
    if (!hasAny && !this.empty.isConnected) this.list.append(this.empty);
    if (hasAny) this.empty.remove();
  }

  /** A new message: appended, joining the author's run when it continues one. */
  add(msg) {
    const near = this.nearBottom();
    this.list.append(this.item(msg));
    this.showEmpty();
    const mine = msg.user_id === this.model.you.user_id;
    if (near || mine) this.scrollDown();
    else this.newer.hidden = false;
  }

  /** A line about the room itself ("Check-in started"), between messages. */
  note(text) {
    const near = this.nearBottom();
    this.list.append(h("li", { class: "note" }, h("p", {}, text)));
    this.showEmpty();
    if (near) this.scrollDown();
  }

  update(id) {
    const li = this.list.querySelector(`li[data-id="${id}"]`);
    const msg = this.model.message(id);
    if (li && msg) rebuild(li, this.parts(msg, li.classList.contains("cont")), () => li.querySelector(".react-toggle"));
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  scrollDown() {
    const s = this.scroller;
    s.scrollTop = s.scrollHeight;
    this.newer.hidden = true;
  }

  item(msg) {
    const m = this.model;
    const prev = this.list.lastElementChild;
    const cont = prev && prev.classList.contains("message") && prev.dataset.user === msg.user_id
      && seconds(msg.at) - Number(prev.dataset.at) < RUN_SECONDS;
    const li = h("li", {
      class: `message${msg.user_id === m.you.user_id ? " mine" : ""}${cont ? " cont" : ""}${msg.role !== "member" ? " staff" : ""}`,
      dataset: { id: String(msg.id), user: msg.user_id, at: String(seconds(msg.at)) },
    });
    replace(li, ...this.parts(msg, cont));
    return li;
  }

  parts(msg, cont) {
    const m = this.model;
    const badge = roleLabel(msg.role);
    const meta = h("p", { class: cont ? "meta visually-hidden" : "meta" },
      h("span", { class: "name" }, msg.name),
      badge ? h("span", { class: "badge" }, badge) : null,
      msg.user_id === m.you.user_id ? h("span", { class: "visually-hidden" }, S.you) : null,
      " ", time(msg.at));
    let body;
    if (msg.redacted) {
      body = h("p", { class: "redacted" }, S.removed);
    } else if (msg.sensitive) {
      body = h("details", { class: "cw" }, h("summary", {}, S.warning), h("p", { class: "text" }, msg.text));
    } else {
      body = h("p", { class: "text" }, msg.text);
    }
    const counts = REACTIONS.filter((kind) => msg.reactions[kind]).map((kind) =>
      h("span", { class: `chip${msg.mine.includes(kind) ? " yours" : ""}` }, S.chip(LABELS[kind], msg.reactions[kind])));
    const open = this.open === msg.id;
    const pickerId = `picker-${msg.id}`;
    const reacts = msg.redacted ? null : h("div", { class: "reacts" },
      counts,
      h("button", {
        type: "button", class: "react-toggle", "aria-expanded": open ? "true" : "false", "aria-controls": pickerId,
        "aria-label": S.reactTo(msg.name), dataset: { key: `rt-${msg.id}` },
        onclick: () => (this.open === msg.id ? this.closePicker(true) : this.openPicker(msg.id)),
      }, S.react));
    const picker = msg.redacted || !open ? null : this.picker(msg, pickerId);
    const mine = msg.user_id === m.you.user_id;
    return [cont || mine ? null : avatar(msg.name, msg.user_id), h("div", { class: "bubble" }, meta, body, reacts, picker)];
  }

  picker(msg, id) {
    const m = this.model;
    const allowed = m.staff || msg.user_id === m.you.user_id;
    const el = h("div", { class: "picker", id, role: "group", "aria-label": S.reactionsTo(msg.name) },
      REACTIONS.map((kind) => h("button", {
        type: "button", class: "reaction", "aria-pressed": msg.mine.includes(kind) ? "true" : "false",
        dataset: { key: `r-${msg.id}-${kind}` }, onclick: () => this.react(msg, kind),
      }, LABELS[kind], msg.reactions[kind] ? h("span", { class: "count" }, ` ${msg.reactions[kind]}`) : null)),
      allowed ? h("button", { type: "button", class: "link", dataset: { key: `w-${msg.id}` }, onclick: () => this.whoReacted(msg) }, S.whoReacted) : null,
      m.staff ? h("button", { type: "button", class: "link danger", dataset: { key: `x-${msg.id}` }, onclick: () => this.redact(msg) }, S.removeText) : null);
    el.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        this.closePicker(true);
      }
    });
    return el;
  }

  openPicker(id) {
    const before = this.open;
    this.open = id;
    if (before !== null) this.update(before);
    this.update(id);
    this.list.querySelector(`li[data-id="${id}"] .picker .reaction`)?.focus({ preventScroll: true });
  }

  closePicker(refocus) {
    const id = this.open;
    if (id === null) return;
    this.open = null;
    this.update(id);
    if (refocus) this.list.querySelector(`li[data-id="${id}"] .react-toggle`)?.focus({ preventScroll: true });
  }

  async react(msg, kind) {
    try {
      const reply = await this.view.socket.send("react", { message: msg.id, kind });
      const mine = new Set(msg.mine);
      if (reply.reacted) mine.add(kind);
      else mine.delete(kind);
      msg.mine = [...mine];
      this.update(msg.id);
    } catch (e) {
      announce(this.view.said(e));
    }
  }

  async whoReacted(msg) {
    try {
      const reply = await this.view.socket.send("who_reacted", { message: msg.id });
      await dialogs.whoReacted(reply, REACTIONS);
    } catch (e) {
      announce(this.view.said(e));
    }
  }

  async redact(msg) {
    const fields = await dialogs.redact();
    if (fields) await this.view.command("redact", { message: msg.id, ...fields });
  }
}
