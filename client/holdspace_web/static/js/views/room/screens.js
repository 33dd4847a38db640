// The screens around the room itself: the welcome (the agreement, crisis resources,
// listen or share), waiting to be let in, the farewell with a facilitator's summary,
// a refusal to join, choosing another name, and a closed connection. Each builds its
// card from what it is given; the room view decides when each shows (view.js).
import { field, h, linked, linkedLines } from "../../dom.js";
import { strings } from "../../strings.js";

const C = strings.common;

const back = () => h("p", {}, h("a", { href: "#/groups" }, C.backToGroups));

const resources = (html) => h("div", { class: "resources" },
  h("h3", {}, C.urgentHelp), h("p", { class: "pre" }, linked(html)));

/** Before joining: `choose("listener" | "sharer")` affirms the agreement; `error` shows
 * why it couldn't. */
export function welcome(room, choose, error) {
  const W = strings.welcome;
  return h("section", { class: "card welcome", "aria-labelledby": "welcome-h" },
    h("h2", { id: "welcome-h" }, W.title),
    h("p", {}, W.agreement),
    h("ul", { class: "guidelines" }, linkedLines(room.guidelines_html).map((line) => h("li", {}, line))),
    resources(room.crisis_resources_html),
    h("p", {}, W.listening),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: () => choose("listener") }, W.listen),
      h("button", { type: "button", class: "primary", onclick: () => choose("sharer") }, W.share)));
}

/** At the door or in the waiting room; `message` is the server's sentence, if any. */
export function waiting(message) {
  const W = strings.waiting;
  return h("section", { class: "card", "aria-labelledby": "wait-h" },
    h("h2", { id: "wait-h" }, W.title),
    h("p", {}, message || W.shortly),
    h("p", {}, W.automatic));
}

export function farewell(message, resourcesHtml) {
  return h("section", { class: "card", "aria-labelledby": "bye-h" },
    h("h2", { id: "bye-h", tabindex: "-1" }, strings.farewell.title),
    h("p", {}, message),
    resourcesHtml ? resources(resourcesHtml) : null,
    back());
}

/** For facilitators: how the session went, in counts only — never a word anyone said. */
export function summary(s, roomId) {
  const S = strings.summary;
  const members = s.came.filter((p) => p.role === "member").map((p) => p.name);
  return h("section", { class: "summary", "aria-labelledby": "summary-h" },
    h("h3", { id: "summary-h" }, S.title),
    h("p", {}, members.length ? S.came(members) : S.nobody),
    h("ul", {},
      h("li", {}, S.rounds(s.rounds)),
      h("li", {}, S.turns(s.shares, s.passes)),
      h("li", {}, S.messages(s.messages)),
      h("li", {}, S.whispers(s.whispers)),
      h("li", {}, S.removals(s.removals))),
    h("p", { class: "hint" }, S.countsOnly),
    h("p", {}, h("a", { href: `#/manage/${encodeURIComponent(roomId)}` }, C.settingsAndRecord)));
}

export function refused(message) {
  return h("section", { class: "card" },
    h("h2", {}, strings.refused.heading),
    h("p", { role: "alert" }, message),
    back());
}

/** A name that claims a role or looks like a facilitator's: `save(name)` tries another,
 * and rejects with the reason it can't be used. */
export function rename(message, save) {
  const R = strings.rename;
  const input = h("input", { name: "display_name", autocomplete: "nickname", required: true, maxlength: 40 });
  const problem = h("p", { class: "error", role: "alert" }, message);
  return h("form", {
    class: "card narrow",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await save(input.value);
      } catch (e) {
        problem.textContent = e.message;
        input.focus();
      }
    },
  }, h("h2", {}, R.heading),
  problem,
  h("p", {}, R.why),
  field(C.displayName, input, R.hint),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, R.save)),
  back());
}

/** The connection closed for good: signed out (4001), opened in another tab or on
 * another device (4010: `reopen` brings it back here), or closed. */
export function closed(code, reopen) {
  const S = strings.closed;
  if (code === 4010) {
    return h("section", { class: "card" },
      h("h2", {}, S.elsewhereHeading),
      h("p", { role: "status" }, S.elsewhere),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: reopen }, S.useHere)),
      back());
  }
  return h("section", { class: "card" },
    h("h2", {}, S.heading),
    h("p", { role: "alert" }, code === 4001 ? S.signedOut : S.closed),
    h("p", {}, h("a", { href: "#/signin" }, S.signIn)));
}
