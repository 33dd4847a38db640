// Managing a group: its details and schedule, co-facilitators, invite codes, bars,
// and the moderation record (who did what, when — never what was said).
import { del, get, patch, post } from "../api.js";
import { clock, day, field, h, replace } from "../dom.js";

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

export async function manage(app, roomId) {
  const creating = roomId === "new";
  let room = null;
  if (!creating) {
    try {
      room = (await get(`/api/rooms/${encodeURIComponent(roomId)}`)).room;
    } catch (e) {
      app.main.append(h("h1", {}, "Group settings"), h("p", { role: "alert" }, e.message));
      return;
    }
  }
  app.main.append(
    h("h1", {}, creating ? "Create a group" : `${room.name}: settings`),
    h("p", {}, h("a", { href: "#/groups" }, "Back to my groups")),
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
        saved.textContent = waitingChanged(room, spec)
          ? "Saved. The waiting room applies at once, in a session that is on now too; the rest from the next session."
          : "Saved. Changes apply from the next session.";
        room = result.room;
      } catch (e) {
        error.textContent = e.message;
        const bad = e.detail.field && form.querySelector(`[name="${e.detail.field}"]`);
        if (bad) bad.focus();
      }
    },
  },
  h("h2", {}, "The group"),
  room ? h("p", { class: "hint" }, "Changes apply from the next session, except the waiting room, which applies at once.") : null,
  field("Name", h("input", { name: "name", required: true, maxlength: 80, value: r.name })),
  field("Description", h("textarea", { name: "description", rows: 2, maxlength: 1000 }, r.description)),
  field("Members at most", h("input", { name: "capacity", type: "number", min: 1, max: 16, value: r.capacity }),
    "Facilitators don't count towards it."),
  field("Who can join", h("select", { name: "visibility" },
    h("option", { value: "closed", selected: r.visibility === "closed" }, "Only people with an invite code"),
    h("option", { value: "open", selected: r.visibility === "open" }, "Anyone signed in"))),
  h("label", { class: "check" }, h("input", { type: "checkbox", name: "waiting_room", checked: r.waiting_room }),
    " Use a waiting room: newcomers wait until a facilitator admits them"),
  h("p", { class: "hint" }, "This one applies at once, even during a session; facilitators can also turn it on and off from the room."),
  h("label", { class: "check" }, h("input", { type: "checkbox", name: "show_passes", checked: r.show_passes }),
    " Let every member see who passed in a round"),
  h("p", { class: "hint" }, "Off by default: members see who shared, and only facilitators see who passed. Passing should cost nothing."),
  field("Group agreement (one line each)", h("textarea", { name: "guidelines", rows: 5, maxlength: 4000 }, room ? r.guidelines : ""),
    room ? null : "Leave empty for Holdspace's default agreement."),
  field("Crisis resources for this group", h("textarea", { name: "crisis_resources", rows: 3, maxlength: 2000 }, room ? r.crisis_resources : ""),
    "Local lines your members can call. Leave empty for the server's."),
  field("Co-facilitators (usernames, comma-separated)", h("input", { name: "co_facilitators", autocomplete: "off" }),
    room ? `Now: ${r.facilitators.map((f) => f.name).join(", ")}. Leave empty to keep them.` : "Optional."),
  h("h2", {}, "When it meets"),
  field("Time zone", h("input", { name: "timezone", required: true, value: r.schedule.timezone }), "For example Europe/London."),
  h("fieldset", {}, h("legend", {}, "Every week on"), dayBoxes),
  field("Starting at", h("input", { name: "start", type: "time", value: weekly.start })),
  field("Or once, on", h("input", { name: "one_off", type: "datetime-local", value: r.schedule.one_off[0]?.start || "" })),
  field("Minutes per session", h("input", { name: "duration", type: "number", min: 15, max: 480, value: weekly.duration_minutes || r.schedule.one_off[0]?.duration_minutes || 90 })),
  field("Lobby opens (minutes before)", h("input", { name: "lobby_minutes", type: "number", min: 0, max: 120, value: r.lobby_minutes })),
  error, saved,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, room ? "Save changes" : "Create the group")));
  return form;
}

function invites(room) {
  const list = h("ul", { class: "invites" });
  const code = h("p", { role: "status" });
  const base = `/api/rooms/${encodeURIComponent(room.id)}/invites`;
  const load = async () => {
    const items = (await get(base)).invites;
    replace(list, items.length ? items.map((i) => h("li", {},
      `Created ${day(i.created_at)} · used ${i.uses}${i.max_uses ? ` of ${i.max_uses}` : ""}`,
      i.revoked_at ? " · revoked" : i.expires_at ? ` · expires ${day(i.expires_at)}` : "",
      i.revoked_at ? null : h("button", {
        type: "button", class: "small", onclick: async () => { await del(`${base}/${i.id}`); await load(); },
      }, "Revoke"))) : [h("li", {}, "No invite codes yet.")]);
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
        replace(code, "New code (shown once — share it privately): ", h("strong", { class: "code" }, made.code));
        await load();
      } catch (e) {
        replace(code, e.message);
      }
    },
  },
  field("Uses", h("input", { name: "max_uses", type: "number", min: 1, max: 1000, value: 1 })),
  field("Valid for (days)", h("input", { name: "days", type: "number", min: 1, max: 90, value: 7 })),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Create an invite code")));
  load().catch((e) => replace(list, h("li", {}, e.message)));
  return h("section", { class: "card", "aria-labelledby": "inv-h" }, h("h2", { id: "inv-h" }, "Invite codes"), list, form, code);
}

function bars(room) {
  const list = h("ul");
  const base = `/api/rooms/${encodeURIComponent(room.id)}/bars`;
  const load = async () => {
    const items = (await get(base)).bars;
    replace(list, items.length ? items.map((b) => h("li", {}, `${b.name} — barred ${day(b.at)}${b.reason ? `: ${b.reason}` : ""} `,
      h("button", { type: "button", class: "small", onclick: async () => { await del(`${base}/${b.user_id}`); await load(); } }, `Lift the bar on ${b.name}`)))
      : [h("li", {}, "Nobody is barred.")]);
  };
  load().catch((e) => replace(list, h("li", {}, e.message)));
  return h("section", { class: "card", "aria-labelledby": "bars-h" }, h("h2", { id: "bars-h" }, "Barred"), list);
}

// -- the moderation record --------------------------------------------------------------

// What each action reads as: who did it (the actor) comes first; `target` is whom.
// Actions the room takes by itself read as whole sentences, without a "who".
const ACTIONS = {
  room_created: () => "created the group",
  room_updated: (e) => `changed the group's settings${e.detail.fields ? ` (${e.detail.fields.replaceAll(",", ", ").replaceAll("_", " ")})` : ""}`,
  invite_created: () => "made an invite code",
  invite_revoked: () => "revoked an invite code",
  bar: (e) => `barred ${e.target}`,
  unbar: (e) => `lifted the bar on ${e.target}`,
  mute: (e) => `muted ${e.target}${e.detail.minutes ? ` for ${e.detail.minutes} minutes` : ""}`,
  unmute: (e) => `unmuted ${e.target}`,
  mute_expired: (e) => `${e.target}'s mute ran out.`,
  pause: () => "paused the group",
  resume: () => "resumed the group",
  redact: (e) => `removed the text of a message by ${e.target}`,
  remove: (e) => `removed ${e.target} from the session${e.detail.barred ? " and barred them" : ""}`,
  admit: (e) => `let ${e.target} in`,
  decline: (e) => `didn't let ${e.target} in`,
  lock: () => "locked the door",
  unlock: () => "unlocked the door",
  waiting_room_on: () => "turned the waiting room on",
  waiting_room_off: () => "turned the waiting room off",
  slow_mode: (e) => (e.detail.seconds ? `set slow mode to ${e.detail.seconds} s` : "turned slow mode off"),
  floor: (e) => `gave ${e.target} the floor`,
  round_started: (e) => `started a round${e.detail.order === "quietest" ? " (quietest first)" : ""}`,
  round_ended: (e) => `${e.actor_id ? "ended the round" : "The round ran its course"} (${e.detail.reached ?? 0} reached)`,
  turn_done: (e) => (e.actor_id === e.target_id ? "shared, and said done" : `ended ${e.target}'s turn`),
  turn_passed: (e) => `passed${e.detail.second_chance ? " (second chance)" : ""}`,
  turn_timed_out: (e) => `${e.target}'s turn ran out of time.`,
  turn_skipped: (e) => `skipped ${e.target}'s turn`,
  turn_left: (e) => `${e.target} left during their turn.`,
  session_ended: (e) => (e.actor_id ? "ended the session" : "The session ended at its scheduled time"),
};
const AUTOMATIC = new Set(["paused_no_facilitator", "resumed_facilitator_back"]);

function who(e) {
  if (!e.actor_id) return null; // the room itself: the description says it all
  return e.actor_name || "Someone no longer here";
}

function describe(e) {
  const named = { ...e, target: e.target_name || "someone no longer here", detail: e.detail || {} };
  const say = ACTIONS[e.action];
  return say ? say(named) : e.action.replaceAll("_", " ");
}

function sessionCounts(e) {
  const d = e.detail || {};
  if (d.members === undefined) return null;
  const n = (count, one, many) => `${count} ${count === 1 ? one : many}`;
  return `${n(d.members, "member", "members")} · ${n(d.rounds, "round", "rounds")} · ${n(d.shares, "share", "shares")} · ${n(d.passes, "pass", "passes")} · ${n(d.messages, "message", "messages")} · ${n(d.whispers, "whisper", "whispers")} · ${n(d.removals, "removal", "removals")}`;
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
      h("summary", {}, `Paused by itself ${pauses} ${pauses === 1 ? "time" : "times"} while no facilitator was connected`),
      h("ul", {}, folded.map((e) => h("li", {}, `${day(e.at)}: ${e.action === "paused_no_facilitator" ? "paused" : "resumed"}`))))));
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
      e.reason ? h("span", { class: "reason" }, ` — “${e.reason}”`) : null,
      counts ? h("span", { class: "counts" }, ` (${counts})`) : null));
  }
  flush();
  return list;
}

function record(room) {
  const body = h("div", { class: "record" }, h("p", {}, "Loading…"));
  get(`/api/rooms/${encodeURIComponent(room.id)}/moderation`).then(({ entries }) => {
    const groups = runs(entries);
    replace(body, groups.length ? groups.map((run) => h("section", { class: "run" },
      h("h3", {}, run.key ? `Session of ${day(run.entries[0].at)}` : `The group, ${day(run.entries[0].at)}`),
      h("ol", { class: "entries", reversed: true }, rows(run.entries).reverse())))
      : [h("p", {}, "Nothing recorded yet.")]);
  }).catch((e) => replace(body, h("p", {}, e.message)));
  return h("section", { class: "card", "aria-labelledby": "rec-h" },
    h("h2", { id: "rec-h" }, "Moderation record"),
    h("p", {}, "What facilitators did, to whom, and how rounds went — never what anyone said. Newest first."),
    body);
}
