// Managing a group: its details and schedule, co-facilitators, invite codes, bars,
// and the moderation record (who did what, when — never what was said).
import { del, get, patch, post } from "../api.js";
import { clock, day, field, h, replace } from "../dom.js";
import { strings } from "../strings.js";

const S = strings.manage;
const R = strings.record;
const DAYS = S.days;

export async function manage(app, roomId) {
  const creating = roomId === "new";
  let room = null;
  if (!creating) {
    try {
      room = (await get(`/api/rooms/${encodeURIComponent(roomId)}`)).room;
    } catch (e) {
      app.main.append(h("h1", {}, S.settings), h("p", { role: "alert" }, e.message));
      return;
    }
  }
  app.main.append(
    h("h1", {}, creating ? S.create : S.titled(room.name)),
    h("p", {}, h("a", { href: "#/groups" }, strings.common.backToGroups)),
    roomForm(app, room),
  );
  if (!creating) {
    app.main.append(invites(room), bars(room), record(room));
  }
}

function waitingChanged(room, spec) {
  return room && Boolean(room.waiting_room) !== Boolean(spec.waiting_room);
}

function roomForm(app, room) {
  const r = room || {
    name: "", description: "", capacity: 8, lobby_minutes: 15, visibility: "closed", waiting_room: false,
    guidelines: "", crisis_resources: "",
    schedule: { timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", weekly: [], one_off: [] },
  };
  const weekly = r.schedule.weekly[0] || { days: [], start: "18:30", duration_minutes: 90 };
  const error = h("p", { class: "error", role: "alert" });
  const saved = h("p", { role: "status" });
  const dayBoxes = DAYS.map((name, i) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: `day${i}`, checked: weekly.days.includes(i) }), ` ${name}`));
  const form = h("form", {
    class: "card",
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = saved.textContent = "";
      const d = Object.fromEntries(new FormData(form));
      const days = DAYS.map((_, i) => i).filter((i) => d[`day${i}`]);
      const spec = {
        name: d.name, description: d.description, capacity: Number(d.capacity),
        lobby_minutes: Number(d.lobby_minutes), visibility: d.visibility, waiting_room: d.waiting_room === "on",
        show_passes: d.show_passes === "on",
        schedule: {
          timezone: d.timezone,
          weekly: days.length ? [{ days, start: d.start, duration_minutes: Number(d.duration) }] : [],
          one_off: d.one_off ? [{ start: d.one_off, duration_minutes: Number(d.duration) }] : [],
        },
      };
      if (d.guidelines.trim()) spec.guidelines = d.guidelines;
      if (d.crisis_resources.trim() || room) spec.crisis_resources = d.crisis_resources;
      if (d.co_facilitators.trim()) spec.co_facilitators = d.co_facilitators.split(",").map((s) => s.trim()).filter(Boolean);
      try {
        const result = room
          ? await patch(`/api/rooms/${encodeURIComponent(room.id)}`, spec)
          : await post("/api/rooms", spec);
        if (!room) {
          app.go(`/manage/${encodeURIComponent(result.room.id)}`);
          return;
        }
        saved.textContent = waitingChanged(room, spec) ? S.savedWaitingRoom : S.saved;
        room = result.room;
      } catch (e) {
        error.textContent = e.message;
        const bad = e.detail.field && form.querySelector(`[name="${e.detail.field}"]`);
        if (bad) bad.focus();
      }
    },
  },
  h("h2", {}, S.group),
  room ? h("p", { class: "hint" }, S.applyHint) : null,
  field(S.name, h("input", { name: "name", required: true, maxlength: 80, value: r.name })),
  field(S.description, h("textarea", { name: "description", rows: 2, maxlength: 1000 }, r.description)),
  field(S.capacity, h("input", { name: "capacity", type: "number", min: 1, max: 16, value: r.capacity }), S.capacityHint),
  field(S.visibility, h("select", { name: "visibility" },
    h("option", { value: "closed", selected: r.visibility === "closed" }, S.closed),
    h("option", { value: "open", selected: r.visibility === "open" }, S.open))),
  h("label", { class: "check" }, h("input", { type: "checkbox", name: "waiting_room", checked: r.waiting_room }), ` ${S.waitingRoom}`),
  h("p", { class: "hint" }, S.waitingRoomHint),
  h("label", { class: "check" }, h("input", { type: "checkbox", name: "show_passes", checked: r.show_passes }), ` ${S.showPasses}`),
  h("p", { class: "hint" }, S.showPassesHint),
  field(S.guidelines, h("textarea", { name: "guidelines", rows: 5, maxlength: 4000 }, room ? r.guidelines : ""),
    room ? null : S.guidelinesHint),
  field(S.crisis, h("textarea", { name: "crisis_resources", rows: 3, maxlength: 2000 }, room ? r.crisis_resources : ""),
    S.crisisHint),
  field(S.cofacilitators, h("input", { name: "co_facilitators", autocomplete: "off" }),
    room ? S.cofacilitatorsNow(r.facilitators.map((f) => f.name)) : S.optional),
  h("h2", {}, S.when),
  field(S.timezone, h("input", { name: "timezone", required: true, value: r.schedule.timezone }), S.timezoneHint),
  h("fieldset", {}, h("legend", {}, S.weekly), dayBoxes),
  field(S.start, h("input", { name: "start", type: "time", value: weekly.start })),
  field(S.oneOff, h("input", { name: "one_off", type: "datetime-local", value: r.schedule.one_off[0]?.start || "" })),
  field(S.duration, h("input", { name: "duration", type: "number", min: 15, max: 480, value: weekly.duration_minutes || r.schedule.one_off[0]?.duration_minutes || 90 })),
  field(S.lobby, h("input", { name: "lobby_minutes", type: "number", min: 0, max: 120, value: r.lobby_minutes })),
  error, saved,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, room ? S.save : S.createGroup)));
  return form;
}

function invites(room) {
  const list = h("ul", { class: "invites" });
  const code = h("p", { role: "status" });
  const base = `/api/rooms/${encodeURIComponent(room.id)}/invites`;
  const load = async () => {
    const items = (await get(base)).invites;
    replace(list, items.length ? items.map((i) => h("li", {},
      S.invite(day(i.created_at), i.uses, i.max_uses),
      i.revoked_at ? S.revoked : i.expires_at ? S.expires(day(i.expires_at)) : "",
      i.revoked_at ? null : h("button", {
        type: "button", class: "small", onclick: async () => { await del(`${base}/${i.id}`); await load(); },
      }, S.revoke))) : [h("li", {}, S.noInvites)]);
  };
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      const d = Object.fromEntries(new FormData(form));
      try {
        const made = await post(base, {
          max_uses: d.max_uses ? Number(d.max_uses) : null,
          expires_in_hours: Number(d.days) * 24,
        });
        replace(code, S.newCode, h("strong", { class: "code" }, made.code));
        await load();
      } catch (e) {
        replace(code, e.message);
      }
    },
  },
  field(S.uses, h("input", { name: "max_uses", type: "number", min: 1, max: 1000, value: 1 })),
  field(S.validDays, h("input", { name: "days", type: "number", min: 1, max: 90, value: 7 })),
  h("div", { class: "actions" }, h("button", { type: "submit" }, S.createInvite)));
  load().catch((e) => replace(list, h("li", {}, e.message)));
  return h("section", { class: "card", "aria-labelledby": "inv-h" }, h("h2", { id: "inv-h" }, S.invites), list, form, code);
}

function bars(room) {
  const list = h("ul");
  const base = `/api/rooms/${encodeURIComponent(room.id)}/bars`;
  const load = async () => {
    const items = (await get(base)).bars;
    replace(list, items.length ? items.map((b) => h("li", {}, S.bar(b.name, day(b.at), b.reason),
      h("button", { type: "button", class: "small", onclick: async () => { await del(`${base}/${b.user_id}`); await load(); } }, S.liftBar(b.name))))
      : [h("li", {}, S.nobodyBarred)]);
  };
  load().catch((e) => replace(list, h("li", {}, e.message)));
  return h("section", { class: "card", "aria-labelledby": "bars-h" }, h("h2", { id: "bars-h" }, S.barred), list);
}

// -- the moderation record --------------------------------------------------------------

const AUTOMATIC = new Set(["paused_no_facilitator", "resumed_facilitator_back"]);

function who(e) {
  if (!e.actor_id) return null; // the room itself: the description says it all
  return e.actor_name || R.someoneGone;
}

function describe(e) {
  const named = { ...e, target: e.target_name || R.targetGone, detail: e.detail || {} };
  const say = Object.hasOwn(R.actions, e.action) ? R.actions[e.action] : null;
  return say ? say(named) : R.unknown(e.action);
}

function sessionCounts(e) {
  const d = e.detail || {};
  if (d.members === undefined) return null;
  return R.counts(d);
}

/** Entries in runs: a session's, and the group's own between sessions, newest first; the
 * room's automatic pauses while no facilitator was connected are folded into one line. */
function runs(entries) {
  const out = [];
  for (const e of entries) {
    const key = e.session_key || null;
    let run = out[out.length - 1];
    if (!run || run.key !== key) {
      run = { key, entries: [] };
      out.push(run);
    }
    run.entries.push(e);
  }
  return out.reverse();
}

function rows(entries) {
  const list = [];
  let folded = [];
  const flush = () => {
    if (!folded.length) return;
    const pauses = folded.filter((e) => e.action === "paused_no_facilitator").length;
    list.push(h("li", { class: "auto" }, h("details", {},
      h("summary", {}, R.folded(pauses)),
      h("ul", {}, folded.map((e) => h("li", {}, R.foldedLine(day(e.at), e.action === "paused_no_facilitator")))))));
    folded = [];
  };
  for (const e of entries) {
    if (AUTOMATIC.has(e.action)) {
      folded.push(e);
      continue;
    }
    flush();
    const counts = e.action === "session_ended" ? sessionCounts(e) : null;
    list.push(h("li", {},
      h("span", { class: "when" }, clock(e.at)), " ",
      who(e) ? [h("strong", {}, who(e)), " "] : null, describe(e),
      e.reason ? h("span", { class: "reason" }, R.reason(e.reason)) : null,
      counts ? h("span", { class: "counts" }, ` (${counts})`) : null));
  }
  flush();
  return list;
}

function record(room) {
  const body = h("div", { class: "record" }, h("p", {}, strings.common.loading));
  get(`/api/rooms/${encodeURIComponent(room.id)}/moderation`).then(({ entries }) => {
    const groups = runs(entries);
    replace(body, groups.length ? groups.map((run) => h("section", { class: "run" },
      h("h3", {}, run.key ? R.session(day(run.entries[0].at)) : R.between(day(run.entries[0].at))),
      h("ol", { class: "entries", reversed: true }, rows(run.entries).reverse())))
      : [h("p", {}, R.empty)]);
  }).catch((e) => replace(body, h("p", {}, e.message)));
  return h("section", { class: "card", "aria-labelledby": "rec-h" },
    h("h2", { id: "rec-h" }, R.title),
    h("p", {}, R.intro),
    body);
}
