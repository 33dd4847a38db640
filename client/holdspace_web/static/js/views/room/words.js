// How the room names things to people: round kinds, turn outcomes, roles.

export const KINDS = { check_in: "Check-in", check_out: "Check-out", custom: "Round" };

// What a turn's outcome reads as. A member sees "moved_on" for anything but a share:
// passing costs nothing, and nobody is listed as having passed.
export const OUTCOMES = {
  done: "shared",
  passed: "passed",
  timed_out: "ran out of time",
  skipped: "skipped",
  left: "left",
  moved_on: "turn over",
  not_reached: "not reached",
};

export function roleLabel(role) {
  if (role === "facilitator") return "Facilitator";
  if (role === "admin") return "Admin";
  return null;
}

export function kindName(kind) {
  return KINDS[kind] || "Round";
}
