// Signing in and signing up: one form each, sent to the HTTP API; on success, my groups.
import { post } from "../api.js";
import { field, h } from "../dom.js";
import { strings } from "../strings.js";

const S = strings.auth;

function form(app, { title, intro, fields, submit, send, other }) {
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, submit);
  const el = h("form", {
    class: "card narrow",
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      button.disabled = true;
      try {
        await send(Object.fromEntries(new FormData(el)));
        await app.refreshUser();
        app.go("/groups");
      } catch (e) {
        error.textContent = e.message;
        const bad = e.detail && e.detail.field && el.querySelector(`[name="${e.detail.field}"]`);
        (bad || el.querySelector("input")).focus();
      } finally {
        button.disabled = false;
      }
    },
  }, h("h1", {}, title), h("p", {}, intro), fields, error, h("div", { class: "actions" }, button), other);
  app.main.append(el);
}

export function signIn(app) {
  form(app, {
    title: S.signIn,
    intro: S.welcomeBack,
    fields: [
      field(S.username, h("input", { name: "username", autocomplete: "username", required: true })),
      field(S.password, h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    ],
    submit: S.signIn,
    send: (data) => post("/api/auth/login", data),
    other: h("p", {}, S.newHere, h("a", { href: "#/signup" }, S.createAccountLink)),
  });
}

export function signUp(app) {
  form(app, {
    title: S.signUp,
    intro: S.signUpIntro,
    fields: [
      field(S.username, h("input", { name: "username", autocomplete: "username", required: true }), S.usernameHint),
      field(strings.common.displayName, h("input", { name: "display_name", autocomplete: "nickname", required: true, maxlength: 40 }),
        S.displayNameHint),
      field(S.password, h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 }),
        S.passwordHint),
      // With a facilitator's code the newcomer is in the group at once, and a group
      // signing up together from one network isn't held to that address's sign-up limit.
      field(S.inviteOptional, h("input", { name: "invite", autocomplete: "off", autocapitalize: "characters", spellcheck: "false" }),
        S.inviteHint),
    ],
    submit: S.createAccount,
    send: (data) => post("/api/auth/register", data),
    other: h("p", {}, S.haveAccount, h("a", { href: "#/signin" }, S.signIn)),
  });
}
