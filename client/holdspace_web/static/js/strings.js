// Every word the web app shows or says — headings, labels, hints, placeholders, button
// and dialog texts, status lines, what screen readers hear — in one place, so that a
// translation is this one file. Keyed by name; refusals by the server's error code.
// Words that take something (a name, a count, a time the view has already formatted)
// are small functions. Nothing here builds elements or reads the room: the views do,
// and hand in what the words need. (The page's own shell — "Leave quickly", "Skip to
// content" — is in index.html: it has to be there before any script runs.)

/** "1 member", "3 members". */
const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export const strings = {
  // -- the whole app ---------------------------------------------------------------------
  common: {
    ok: "OK",
    cancel: "Cancel",
    close: "Close",
    dismiss: "Dismiss",
    loading: "Loading…",
    backToGroups: "Back to my groups",
    settingsAndRecord: "Group settings and record",
    urgentHelp: "If you need urgent help",
    displayName: "Display name",
  },
  app: {
    name: "Holdspace",
    title: (screen) => `${screen} — Holdspace`,
    manageTitle: "Group settings — Holdspace",
    yourTurnTitle: "Your turn — Holdspace",
    unreadTitle: (n, title) => `(${n}) ${title}`,
    exitTitle: "New Tab", // what the tab says while "Leave quickly" takes it elsewhere
    crisis: "Crisis support",
    crisisFallback: "If you are in danger, please contact your local emergency number now.",
    stepAway: "You can step away from the group at any time.",
    myGroups: "My groups",
    signOut: "Sign out",
  },
  // What goes wrong on the way, before any server could say why.
  network: {
    failed: (status) => `Something went wrong (${status}).`,
    offline: "You seem to be offline. Please check your connection.",
    reconnecting: "You're reconnecting — please try again in a moment.",
    dropped: "The connection dropped before an answer came.",
  },

  // -- signing in, my groups -------------------------------------------------------------
  auth: {
    signIn: "Sign in",
    welcomeBack: "Welcome back. Take your time.",
    username: "Username",
    password: "Password",
    newHere: "New here? ",
    createAccountLink: "Create an account",
    signUp: "Create an account",
    signUpIntro: "Only your display name is shown to your group. Use any name you're comfortable with.",
    usernameHint: "For signing in. Others never see it.",
    displayNameHint: "What your group sees. A first name or a nickname is fine; not a role such as facilitator (everyone sees roles beside names).",
    passwordHint: "At least 10 characters.",
    inviteOptional: "Invite code (if you have one)",
    inviteHint: "From your facilitator: you'll be in their group as soon as your account is made.",
    createAccount: "Create account",
    haveAccount: "Already have an account? ",
  },
  groups: {
    title: "My groups",
    noneStaff: "You don't have any groups yet. Create one below.",
    noneMember: "You're not in any groups yet. If a facilitator gave you an invite code, enter it below.",
    openStartsAt: (time) => `The room is open — the group starts at ${time}`,
    meetingNow: "Meeting now",
    join: (name) => `Join ${name}`,
    next: (starts, opens) => `Next: ${starts}. The room opens at ${opens}.`,
    notOpenYet: "Join (not open yet)",
    noneScheduled: "No upcoming sessions are scheduled.",
    manage: "Manage",
    inviteHeading: "Have an invite code?",
    inviteCode: "Invite code",
    joinGroup: "Join the group",
    create: "Create a group",
  },

  // -- managing a group ------------------------------------------------------------------
  manage: {
    days: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    settings: "Group settings",
    create: "Create a group",
    titled: (name) => `${name}: settings`,
    savedWaitingRoom: "Saved. The waiting room applies at once, in a session that is on now too; the rest from the next session.",
    saved: "Saved. Changes apply from the next session.",
    group: "The group",
    applyHint: "Changes apply from the next session, except the waiting room, which applies at once.",
    name: "Name",
    description: "Description",
    capacity: "Members at most",
    capacityHint: "Facilitators don't count towards it.",
    visibility: "Who can join",
    closed: "Only people with an invite code",
    open: "Anyone signed in",
    waitingRoom: "Use a waiting room: newcomers wait until a facilitator admits them",
    waitingRoomHint: "This one applies at once, even during a session; facilitators can also turn it on and off from the room.",
    showPasses: "Let every member see who passed in a round",
    showPassesHint: "Off by default: members see who shared, and only facilitators see who passed. Passing should cost nothing.",
    guidelines: "Group agreement (one line each)",
    guidelinesHint: "Leave empty for Holdspace's default agreement.",
    crisis: "Crisis resources for this group",
    crisisHint: "Local lines your members can call. Leave empty for the server's.",
    cofacilitators: "Co-facilitators (usernames, comma-separated)",
    cofacilitatorsNow: (names) => `Now: ${names.join(", ")}. Leave empty to keep them.`,
    optional: "Optional.",
    when: "When it meets",
    timezone: "Time zone",
    timezoneHint: "For example Europe/London.",
    weekly: "Every week on",
    start: "Starting at",
    oneOff: "Or once, on",
    duration: "Minutes per session",
    lobby: "Lobby opens (minutes before)",
    save: "Save changes",
    createGroup: "Create the group",
    // invite codes
    invites: "Invite codes",
    invite: (created, uses, max) => `Created ${created} · used ${uses}${max ? ` of ${max}` : ""}`,
    revoked: " · revoked",
    expires: (when) => ` · expires ${when}`,
    revoke: "Revoke",
    noInvites: "No invite codes yet.",
    newCode: "New code (shown once — share it privately): ",
    uses: "Uses",
    validDays: "Valid for (days)",
    createInvite: "Create an invite code",
    // bars
    barred: "Barred",
    bar: (name, when, reason) => `${name} — barred ${when}${reason ? `: ${reason}` : ""} `,
    liftBar: (name) => `Lift the bar on ${name}`,
    nobodyBarred: "Nobody is barred.",
  },
  // The moderation record: who did what, to whom — never what was said.
  record: {
    title: "Moderation record",
    intro: "What facilitators did, to whom, and how rounds went — never what anyone said. Newest first.",
    empty: "Nothing recorded yet.",
    session: (when) => `Session of ${when}`,
    between: (when) => `The group, ${when}`,
    someoneGone: "Someone no longer here",
    targetGone: "someone no longer here",
    reason: (reason) => ` — “${reason}”`,
    counts: (d) => [
      count(d.members, "member", "members"), count(d.rounds, "round", "rounds"),
      count(d.shares, "share", "shares"), count(d.passes, "pass", "passes"),
      count(d.messages, "message", "messages"), count(d.whispers, "whisper", "whispers"),
      count(d.removals, "removal", "removals"),
    ].join(" · "),
    folded: (pauses) => `Paused by itself ${count(pauses, "time", "times")} while no facilitator was connected`,
    foldedLine: (when, paused) => `${when}: ${paused ? "paused" : "resumed"}`,
    unknown: (action) => action.replaceAll("_", " "),
    // What each action reads as, after who did it; `e.target` names whom. Actions the
    // room takes by itself read as whole sentences.
    actions: {
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
    },
  },

  // -- how the room names things ---------------------------------------------------------
  words: {
    roles: { facilitator: "Facilitator", admin: "Admin" },
    kinds: { check_in: "Check-in", check_out: "Check-out", custom: "Round" },
    // What a turn's outcome reads as. A member sees "moved_on" for anything but a share:
    // passing costs nothing, and nobody is listed as having passed.
    outcomes: {
      done: "shared",
      passed: "passed",
      timed_out: "ran out of time",
      skipped: "skipped",
      left: "left",
      moved_on: "turn over",
      not_reached: "not reached",
    },
    reactions: { me_too: "Me too", heart: "Heart", thank_you: "Thank you" },
    someoneWhoLeft: "someone who left",
  },

  // -- the room: its frame, and what it says about itself ----------------------------------
  room: {
    joining: "Joining…",
    group: "Group",
    newCount: " new", // after the badge's number, for screen readers
    leave: "Leave",
    conversation: "Conversation",
    sessionEnded: "Session ended",
    unreachable: "Can't reach the room — still trying",
    reconnecting: "Reconnecting…",
    joined: (name) => `You've joined ${name}.`,
    reconnected: "Reconnected. You're up to date.",
    ended: "This session has ended. Thank you for being here.",
  },
  // Notes between the messages, and what screen readers hear as the room moves.
  notes: {
    said: (name, text) => `${name}: ${text}`,
    saidWithWarning: (name) => `${name} posted a message with a content warning.`,
    roundStarted: (kind, prompt) => `${kind} started: ${prompt}`,
    roundStartedSay: (kind, prompt) => `${kind} has started: ${prompt}`,
    roundEnded: (kind, shared) => `${kind} has ended.${shared.length ? ` Shared: ${shared.join(", ")}.` : ""}`,
    pausedNoFacilitator: "Paused until a facilitator is back.",
    paused: (message) => `Paused${message ? `: ${message}` : "."}`,
    pausedSay: (message) => `The group is paused. ${message || ""}`,
    resumed: "The group has resumed.",
    floor: (name) => `${name} has the floor.`,
    youMuted: "A facilitator has paused your messages for now.",
    youUnmuted: "You can post again.",
  },
  // The lines above the conversation: the state of the room.
  banner: {
    startsAt: (time) => `The group starts at ${time}.`,
    mutedUntil: (time) => `Your messages are paused until ${time}.`,
    muted: "A facilitator has paused your messages for now.",
    locked: "The room is closed to new arrivals.",
    slowMode: (seconds) => `Slow mode: one message every ${seconds} seconds.`,
    waitingRoom: "Waiting room on: new arrivals wait for you to let them in.",
  },

  // -- the screens around the room -----------------------------------------------------------
  welcome: {
    title: "Before you join",
    agreement: "This group has an agreement everyone affirms at the start of each session:",
    listening: "Listening is taking part. You can change your mind at any time, and you can always pass.",
    listen: "I agree — Just listen",
    share: "I agree — I'd like to share",
  },
  waiting: {
    title: "Please wait a moment",
    shortly: "A facilitator will bring you in shortly.",
    automatic: "You'll come in automatically. Support is always one tap away: “Crisis support” at the top of the page.",
  },
  farewell: {
    title: "Take care",
  },
  summary: {
    title: "Session summary",
    came: (names) => `${count(names.length, "member", "members")} came: ${names.join(", ")}.`,
    nobody: "No members came.",
    rounds: (n) => count(n, "round", "rounds"),
    turns: (shares, passes) => `${count(shares, "share", "shares")} and ${count(passes, "pass", "passes")} in rounds`,
    messages: (n) => count(n, "message", "messages"),
    whispers: (n) => count(n, "whisper", "whispers"),
    removals: (n) => count(n, "removal", "removals"),
    countsOnly: "Counts only: nothing anyone said is kept. They are in the group's moderation record too.",
  },
  refused: {
    title: "Not available",
    heading: "You can't join right now",
  },
  rename: {
    heading: "Choose another name for this group",
    why: "Everyone sees each person's role beside their name, so nobody is unsure who is speaking.",
    hint: "A first name or a nickname is fine.",
    save: "Save and join",
  },
  closed: {
    heading: "Disconnected",
    signedOut: "You've been signed out. Please sign in again.",
    closed: "The connection was closed.",
    signIn: "Sign in",
    elsewhereHeading: "Open somewhere else",
    elsewhere: "Holdspace is open in another tab or on another device, so this tab stepped aside.",
    useHere: "Use it here",
  },

  // -- the room's parts ------------------------------------------------------------------------
  conversation: {
    label: "Messages",
    empty: "Nothing has been said yet.",
    emptyWelcome: "Listening is taking part. When you're ready, you're welcome to share.",
    newer: "New messages ↓",
    you: " (you)",
    removed: "This message was removed by a facilitator.",
    warning: "Content warning — select to read",
    chip: (label, n) => `${label} ${n}`,
    react: "React",
    reactTo: (name) => `React to ${name}'s message`,
    reactionsTo: (name) => `Reactions to ${name}'s message`,
    whoReacted: "Who reacted",
    removeText: "Remove text…",
  },
  composer: {
    label: "Your message",
    placeholder: "Write a message…",
    send: "Send",
    warning: "Content warning",
    participation: "Your participation",
    moment: "I need a moment",
    share: "I'd like to share",
    listen: "Just listen",
    raiseHand: "Raise hand",
    lowerHand: "Lower hand",
    count: (n, limit) => `${n} / ${limit}`,
    over: (over, limit) => `${over} over the limit of ${limit}`,
    overSay: (over, limit) => `Your message is ${over} characters over the limit of ${limit}.`,
    left: (n) => `${n} characters left.`,
    sent: (at) => `Sent to the facilitators ✓ ${at}`,
    sentNobodyThere: (at) => `Sent ✓ ${at}. No facilitator is connected right now; they'll see it when they're back.`,
    addWords: "Add a few words",
    // Why the composer is off, when it isn't the server's to say (see `refusals` for that).
    ended: "This session has ended.",
    reconnecting: "Reconnecting… you'll be able to send again in a moment.",
  },
  // The turn bar (yours) and the round line (everyone else's).
  turn: {
    floor: "You have the floor",
    second: "Another chance, if you'd like",
    round: "It's your turn",
    floorGiven: "A facilitator gave you the floor: the room is listening.",
    floorListening: "You're listening now. Choose to share when you're ready — or pass.",
    writeThenDone: "Write below, then say Done. You can always pass.",
    until: (time) => `Until ${time}. You can always pass.`,
    share: "I'd like to share",
    done: "Done",
    pass: "Pass",
    say: (heading, floor) => `${heading}. ${floor ? "A facilitator gave you the floor. " : ""}You can always pass.`,
    sharing: (name) => `${name} is sharing`,
    movingOn: "the piece is moving on",
    line: (kind, second, who, next) => `${kind}${second ? " (another chance)" : ""}: ${who}${next ? " · you're next" : ""}`,
    floorLine: (name) => `${name} has the floor`,
  },
  // The group panel.
  side: {
    title: "The group",
    close: "Close",
    yourTurn: "It's your turn.",
    sharing: (name) => `${name} is sharing.`,
    passingOn: "Passing the piece on…",
    secondChance: "Another chance for anyone who passed.",
    order: "Order",
    outcome: (said) => ` — ${said}`,
    sharingNow: " — sharing now",
    skip: (name) => `Skip ${name}'s turn`,
    endRound: "End round",
    roundEnded: (kind) => `${kind} has ended`,
    onlyStaffSeePasses: "Only facilitators see who passed.",
    lastTurn: (name, outcome, then) => `${name}: ${outcome}${then ? `, then ${then}` : ""}`,
    floor: "The floor",
    youHaveFloor: "You have the floor.",
    hasFloor: (name) => `${name} has the floor.`,
    openFloor: "Open the floor again",
    waiting: (n) => `Waiting to come in (${n})`,
    atDoor: "at the door: comes in when the share ends",
    admit: (name) => `Admit ${name}`,
    decline: (name) => `Decline ${name}`,
    whispers: (n) => `Whispers (${n})`,
    fresh: (n) => `${n} new`,
    answered: (by, name) => `${by} to ${name}`,
    needsMoment: "needs a moment",
    replyTo: (name) => `Reply to ${name}`,
    noWhispers: "No whispers yet. Members can ask for a moment, privately, at any time.",
    thread: "You and the facilitators",
    threadHint: "Private: nobody else sees these, and nothing appears in the room.",
    you: "You",
    myMoment: "I need a moment.",
    write: "Write to the facilitators…",
    here: (n) => `Here (${n})`,
    youMark: " (you)",
    sharer: "sharing",
    listener: "listening",
    away: "away",
    muted: "muted",
    hasTheFloor: "has the floor",
    hand: (place) => `hand raised (${place})`,
    actionsOf: (name) => `${name}: `, // read before "Actions"
    actions: "Actions",
    device: "On this device",
    enterSends: "Enter sends my message",
    enterSendsHint: "(Shift+Enter starts a new line)",
    sound: "Sound for whispers and arrivals",
  },
  // What a facilitator must not miss: toasts, and what they say to members privately.
  signals: {
    answer: (by, text) => `${by} (facilitator), privately: ${text}`,
    answerSay: (by, text) => `${by} answered you privately: ${text}`,
    moment: (name) => `${name} needs a moment`,
    whisper: (name, text) => `${name} whispers: ${text}`,
    reply: "Reply",
    atDoor: (name) => `${name} is at the door: they'll come in when the share ends`,
    waiting: (name) => `${name} is waiting to come in`,
    admit: "Admit",
    decline: "Decline",
    sent: (name) => `Sent to ${name}.`,
  },
  // The facilitators' tools: for one person, and for the session.
  tools: {
    actionsFor: (name) => `Actions for ${name}`,
    giveFloor: (name) => `Give ${name} the floor`,
    whisper: (name) => `Whisper to ${name}`,
    mute: (name) => `Mute ${name}`,
    unmute: (name) => `Unmute ${name}`,
    remove: (name) => `Remove ${name}`,
    title: "Facilitator tools",
    turns: "Turns",
    startRound: "Start a round…",
    giveFloorNext: (name) => `Give the floor to ${name}`,
    clearHands: "Lower all hands",
    balance: "Participation balance",
    session: "The session",
    resume: "Resume the group",
    pause: "Pause…",
    slowOn: "Slow mode…",
    slowOff: "Turn off slow mode",
    door: "Door locked",
    waitingRoom: "Waiting room",
    on: "On",
    off: "Off",
    end: "End the session…",
  },
  dialogs: {
    reason: "Reason (optional, for the moderation record)",
    reply: {
      title: (name) => `Reply to ${name}, privately`,
      who: (name) => `Only ${name} and the other facilitators will see this.`,
      moment: (name) => `${name} asked for a moment.`,
      text: "Your reply",
      submit: "Send privately",
    },
    whisper: {
      title: "Whisper to the facilitators",
      who: "Only the facilitators will see this. Nothing appears in the room.",
      text: "Your whisper (optional)",
      hint: (limit) => `Up to ${limit} characters. Without words, it says “I need a moment”.`,
      submit: "Send whisper",
    },
    mute: {
      title: (name) => `Mute ${name}?`,
      what: "They can still read, react and whisper to you. They'll see why they can't post.",
      length: "For how long",
      minutes: (n) => `${n} minutes`,
      untilUnmuted: "Until I unmute them",
      submit: "Mute",
    },
    remove: {
      title: (name) => `Remove ${name} from this session?`,
      what: "They'll be shown a kind message and crisis resources.",
      bar: "Also bar them from future sessions",
      submit: "Remove",
    },
    pause: {
      title: "Pause the group",
      message: "A message for everyone (optional)",
      suggestion: "Let's take a breath together.",
      submit: "Pause",
    },
    round: {
      title: "Start a round",
      what: "The talking piece goes to everyone sharing, one at a time. Listeners are never called on.",
      kind: "Kind",
      prompt: "Prompt (optional for check-in and check-out)",
      order: "Order",
      orders: { arrival: "In order of arrival", quietest: "Quietest first" },
      minutes: "Minutes per turn (optional)",
      submit: "Start",
    },
    slowMode: {
      title: "Slow mode",
      seconds: "Seconds between a member's messages",
      submit: "Turn on",
    },
    balance: {
      title: "Participation balance",
      row: (r) => `${r.name || "Someone who left"}${r.present ? "" : " (left)"}: ${r.posts} messages, ${r.turns} turns shared, ${r.passes} passes`,
      nobody: "Nobody has shared yet.",
    },
    end: {
      title: "End this session for everyone?",
      what: "Everyone will be thanked and the room will close until the next session.",
      submit: "End the session",
    },
    redact: {
      title: "Remove this message's text?",
      what: "Everyone will see that a facilitator removed it. The text can't be brought back.",
      reason: "Reason (for the moderation record, optional)",
      submit: "Remove text",
    },
    reactions: {
      title: "Who reacted",
      row: (label, names) => `${label}: ${names.join(", ")}`,
      none: "No reactions yet.",
    },
  },

  // -- refusals, by the server's error code ---------------------------------------------------
  // Each takes the refusal's `detail` and what the room view knows (`holder` and `floor`:
  // the names of whoever holds the talking piece or the floor, if not this person;
  // `pause_reason`, `pause_message`), and returns null when it can't say it well — then
  // the server's own message is shown. Codes not here (invalid input, a field too long,
  // no session now…) are worded by the server, which knows exactly what it refused.
  refusals: {
    // Why someone can't post: the composer says it (the snapshot's and `post_state`'s
    // code), and a post refused for it says the same.
    session_ended: () => "This session has ended.",
    agreement_required: () => "Please affirm the group agreement before posting.",
    listening: () => "You're listening. Choose “I'd like to share” to post.",
    muted: () => "A facilitator has paused your messages for now. You can still read, react and whisper to the facilitators.",
    not_started: () => "The group hasn't started yet. You can post once it begins.",
    paused: ({ pause_reason: reason, pause_message: message }) => (reason === "no_facilitator"
      ? "The group is paused until a facilitator is back."
      : `The group is paused${message ? `: ${message}` : "."}`),
    not_your_turn: ({ holder, floor }) => {
      if (holder) return `It's ${holder}'s turn to share. You can still react.`;
      if (floor) return `It's ${floor}'s turn to speak. You can still react, and raise your hand to speak next.`;
      return null;
    },
    // A post or a whisper too soon after the last.
    slow_mode: ({ retry_after: s }) => (s ? `The group is taking it slowly: you can post again in ${s} s.` : null),
    rate_limited: ({ retry_after: s }) => (s ? `Let's slow down a little — you can send again in ${s} s.` : null),
    empty: () => "There's nothing to send.",
    // Coming in.
    barred: () => "You can't join this group. If you think this is a mistake, please contact its facilitator.",
    removed: () => "You can't rejoin this session. Please reach out to the facilitators if you need to.",
    locked: () => "The group has closed its door for this session. You're welcome next time.",
    waiting: () => "You'll be able to do that once you're in the room.",
    not_present: () => "You're not in this room right now. Join it first.",
    name_reserved: () => "Names can't suggest a role in the group, such as facilitator or moderator: everyone sees each person's role beside their name. Please choose another name.",
    name_confusable: ({ facilitator }) => (facilitator
      ? `This name looks too much like ${facilitator}, who facilitates your group. Please choose another, so nobody is unsure who is speaking.`
      : null),
    // A facilitator's tool, when the room has moved on.
    no_such_message: () => "That message is no longer here.",
    not_muted: () => "They aren't muted.",
    already_paused: () => "The group is already paused.",
    not_paused: () => "The group isn't paused.",
    no_sharers: () => "Nobody has chosen to share yet, so there's no one to offer the talking piece to.",
    no_hands: () => "No hands are raised.",
    no_floor: () => "Nobody has the floor.",
    already_locked: () => "The room is already closed to new arrivals.",
    not_locked: () => "The room is open to arrivals already.",
    not_waiting: () => "They're no longer in the waiting room.",
    unavailable: () => "The service is briefly unavailable; nothing was changed. Please try again.",
  },
  // The HTTP API's refusals (signing in and up, invite codes, group settings).
  apiRefusals: {
    not_authenticated: () => "Please sign in.",
    bad_credentials: () => "That username and password don't match an account.",
    username_taken: () => "That username is taken. Please choose another.",
    invalid_username: () => "Usernames are 3–32 letters, digits, dots, dashes or underscores.",
    common_password: () =>
      "That password is one many people use, so it would be easy to guess. Please choose another: a few unrelated words work well.",
    closed: () => "New accounts are created by an administrator here.",
    rate_limited: ({ retry_after: s }) => (s ? `Too many attempts. Please wait ${s} s and try again.` : null),
    busy: () => "A lot of people are signing in right now. Please try again in a moment.",
    invalid_invite: () => "That invite code isn't valid any more. Please ask your facilitator for a new one.",
    bad_origin: () => "This request came from a page we don't recognise.",
  },
};

// The API's refusals that mean the same as the room's.
for (const code of ["barred", "name_reserved", "name_confusable", "unavailable"]) {
  strings.apiRefusals[code] = strings.refusals[code];
}

/**
 * The words for a refusal (or for what blocks the composer), by its code: ours, given
 * `params` (the refusal's detail and what the view knows), or else the server's
 * `message` — a code this app doesn't know yet, or words that need what it lacks.
 */
export function refusal(code, params = {}, message = null, table = strings.refusals) {
  const say = Object.hasOwn(table, code) ? table[code] : null;
  return (say && say(params)) || message || strings.network.failed(code);
}

export function roleLabel(role) {
  return strings.words.roles[role] || null;
}

export function kindName(kind) {
  return strings.words.kinds[kind] || strings.words.kinds.custom;
}

export function outcomeName(outcome) {
  return strings.words.outcomes[outcome] || outcome;
}
