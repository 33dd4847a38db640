// My groups: each group I belong to, when it next meets and a way in when it's open;
// redeeming an invite code; for facilitators, creating a group.
import { get, post } from "../api.js";
import { clock, day, field, h, instant, linked } from "../dom.js";
import { strings } from "../strings.js";

const S = strings.groups;

export async function groups(app) {
  const list = h("ul", { class: "groups" });
  const status = h("p", { role: "status" });
  app.main.append(h("h1", {}, S.title), status, list);
  const staff = app.user.role !== "member";
  let rooms = [];
  try {
    rooms = (await get("/api/rooms")).rooms;
  } catch (e) {
    status.textContent = e.message;
  }
  if (!rooms.length) {
    status.textContent = staff ? S.noneStaff : S.noneMember;
  }
  for (const r of rooms) list.append(card(app, r));
  app.main.append(redeem(app));
  if (staff) {
    app.main.append(h("p", {}, h("a", { class: "button", href: "#/manage/new" }, S.create)));
  }
}

function card(app, r) {
  const next = r.next_session;
  let when;
  let join = null;
  if (r.open_now) {
    // Instants arrive as ISO 8601 strings: compare them as dates, never as text.
    const lobby = next && Date.now() < instant(next.starts_at).getTime();
    when = lobby ? S.openStartsAt(clock(next.starts_at)) : S.meetingNow;
    join = h("a", { class: "button primary", href: `#/room/${encodeURIComponent(r.id)}` }, S.join(r.name));
  } else if (next) {
    when = S.next(day(next.starts_at), day(next.lobby_opens_at));
    join = h("button", { type: "button", disabled: true, "aria-describedby": `when-${r.id}` }, S.notOpenYet);
  } else {
    when = S.noneScheduled;
  }
  const manageLink = r.your_role !== "member"
    ? h("a", { href: `#/manage/${encodeURIComponent(r.id)}` }, S.manage)
    : null;
  return h("li", { class: "card group" },
    h("h2", {}, r.name),
    r.description ? h("p", { class: "pre" }, linked(r.description_html)) : null,
    h("p", { class: "when", id: `when-${r.id}` }, when),
    h("div", { class: "actions" }, join, manageLink));
}

function redeem(app) {
  const error = h("p", { class: "error", role: "alert" });
  const input = h("input", { name: "code", autocomplete: "off", required: true });
  const form = h("form", {
    class: "card",
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await post("/api/invites/redeem", { code: input.value });
        app.go("/groups");
      } catch (e) {
        error.textContent = e.message;
        input.focus();
      }
    },
  }, h("h2", {}, S.inviteHeading), field(S.inviteCode, input), error,
  h("div", { class: "actions" }, h("button", { type: "submit" }, S.joinGroup)));
  return form;
}
