// The chat client: logs in over the WebSocket, keeps the contact list,
// presence, conversations and waiting questions of this session, and
// answers what the server pushes. The SessionID stays in memory only.

import { Connection } from "./csp.js";
import * as P from "./primitives.js";
import * as ui from "./ui.js";

const $ = (id) => document.getElementById(id);

let state = null;

function fresh() {
  return {
    conn: null,
    me: "",
    list: null,
    contacts: new Map(),
    groups: new Map(),
    convs: new Map(),
    unread: new Map(),
    current: null,
    prompts: [],
    ended: null,
    keepAlive: null,
    // Invitations this user sent and that are not answered yet, by InviteID.
    sentInvites: new Map(),
    reconnecting: false,
  };
}

function wsUrl() {
  const path = document.querySelector('meta[name="imps-ws-path"]').content;
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

function randomCookie() {
  const b = new Uint32Array(2);
  crypto.getRandomValues(b);
  return `${b[0]}${b[1]}`;
}

// Fails with the server's words when a request was refused.
function check(resp, what) {
  if (resp.code() >= 300) throw new Error(`${what}: ${resp.code()} ${resp.description()}`.trim());
  return resp;
}

function redraw() {
  const open = (conv) => {
    state.current = conv;
    state.unread.delete(conv);
    redraw();
  };
  ui.contacts(state, open);
  ui.groups(state, open);
  ui.conversation(state);
  ui.prompts(state);
}

// ---- logging in ----

// The system messages a login is held for (the operator's terms, 1.3):
// shown, answered, and the login tried again with the answers.
class HeldForAnswers extends Error {
  constructor(messages) {
    super("the server asks a question before the login completes");
    this.messages = messages;
  }
}

async function login(user, password, answers = []) {
  const conn = new Connection(wsUrl(), onPush, onClosed);
  state.conn = conn;
  await conn.open();
  const cookie = randomCookie();
  let resp = null;
  // 4-way digest where the browser computes SHA-1 (secure contexts).
  if (globalThis.crypto && crypto.subtle) {
    const tid = conn.tid();
    const first = await conn.request(P.login(user, { schema: "SHA" }, cookie), tid);
    const nonce = first.textAt("Nonce");
    const schema = (first.textAt("DigestSchema") || "SHA").toUpperCase();
    if (first.textAt("SessionID")) {
      resp = first;
    } else if (nonce && schema.startsWith("SHA")) {
      const digest = await P.digest(nonce, password);
      resp = await conn.request(P.login(user, { digest }, cookie, answers), tid);
    }
  }
  if (!resp) resp = await conn.request(P.login(user, { password }, cookie, answers));
  const sid = resp.textAt("SessionID");
  if (resp.code() !== 200 || !sid) {
    conn.close();
    const held = resp.at("Result", "SystemMessageList") || resp.child("SystemMessageList");
    const messages = held ? held.all("SystemMessage") : [];
    if (messages.some((m) => m.child("AnswerOptions"))) throw new HeldForAnswers(messages);
    throw new Error(resp.description() || `login refused (${resp.code()})`);
  }
  conn.sessionId = sid;
  state.me = resp.textAt("UserID") || P.wireUser(user);
  check(await conn.request(P.clientCapability()), "capabilities");
  check(await conn.request(P.serviceAll()), "services");
  check(await conn.request(P.updatePresence("AVAILABLE", null)), "presence");
  const every = Number(resp.textAt("KeepAliveTime")) || 600;
  state.keepAlive = setInterval(() => state.conn.request(P.keepAlive()).catch(() => {}), every * 800);
  await loadContacts();
}

// Shows the messages a login is held for, one at a time, each with its
// answer options; resolves with [[SystemMessageID, ChosenOptionID]].
function answerHeld(messages) {
  return new Promise((resolve) => {
    const answers = [];
    const next = (i) => {
      if (i >= messages.length) return resolve(answers);
      const m = messages[i];
      const options = (m.child("AnswerOptions")?.all("AnswerOption") || []).map((o) => ({
        text: o.textAt("AnswerOptionText"),
        id: o.textAt("AnswerOptionID"),
      }));
      ui.terms(m.textAt("SystemMessageText") || "", options, (chosen) => {
        answers.push([m.textAt("SystemMessageID"), chosen]);
        next(i + 1);
      });
    };
    next(0);
  });
}

// The default contact list (made when there is none), its members, their
// presence, and a subscription for changes.
async function loadContacts() {
  const conn = state.conn;
  const lists = await conn.request(P.getList());
  const ids = (lists.child("ContactListIDList") || lists).all("ContactList").map((n) => n.text);
  state.list = lists.textAt("DefaultContactList") || ids[0] || null;
  if (!state.list) {
    const id = listId(state.me, "friends");
    check(await conn.request(P.createList(id)), "making the contact list");
    state.list = id;
  }
  const members = check(await conn.request(P.listManage(state.list)), "reading contacts");
  for (const n of members.at("NickList")?.all("NickName") || []) {
    addContact(n.textAt("UserID"), n.textAt("Name"));
  }
  const who = [...state.contacts.values()].map((c) => c.id);
  if (who.length) {
    applyPresence(await conn.request(P.getPresence(who)));
    await conn.request(P.subscribePresence(who));
  }
  redraw();
}

// `wv:alice@host` + `room` -> `wv:alice/room@host`.
function listId(me, room) {
  const at = me.lastIndexOf("@");
  return at > 0 ? `${me.slice(0, at)}/${room}${me.slice(at)}` : `${me}/${room}`;
}

function addContact(id, nick) {
  const k = P.key(id);
  if (!state.contacts.has(k)) {
    state.contacts.set(k, { id, nick: nick || k, online: false, availability: null, text: "" });
  }
  return state.contacts.get(k);
}

function applyPresence(body) {
  for (const p of body.all("Presence")) {
    const c = state.contacts.get(P.key(p.textAt("UserID")));
    const sub = p.child("PresenceSubList");
    if (!c || !sub) continue;
    const on = sub.textAt("OnlineStatus", "PresenceValue");
    if (on !== null) c.online = on === "T";
    const av = sub.textAt("UserAvailability", "PresenceValue");
    if (av !== null) c.availability = av;
    const text = sub.textAt("StatusText", "PresenceValue");
    if (text !== null) c.text = text;
  }
}

// ---- what the server pushes ----

function onPush(tid, body) {
  const conn = state.conn;
  switch (body.name) {
    case "NewMessage":
      return received(tid, body);
    case "PresenceNotification-Request":
      applyPresence(body);
      break;
    case "PresenceAuth-Request":
      askAuthorization(body.textAt("UserID"));
      break;
    case "Notification-Request":
      if (body.textAt("NotificationType") === "ANU") {
        for (const u of body.child("UserIDList")?.all("UserID") || []) askAuthorization(u.text);
      }
      break;
    case "InviteUser-Request":
      askInvitation(body);
      break;
    case "CancelInviteUser-Request":
      invitationWithdrawn(body);
      break;
    case "Invite-Response":
      invitationAnswered(body);
      break;
    case "SystemMessage-Request":
      for (const m of body.child("SystemMessageList")?.all("SystemMessage") || []) askSystem(m);
      break;
    case "GroupChangeNotice":
      refreshMembers(body.textAt("GroupID"));
      break;
    case "Disconnect":
      state.ended = body.description() || "The server ended this session";
      break;
  }
  if (tid !== null) conn.ok(tid);
  redraw();
}

function received(tid, body) {
  const info = body.child("MessageInfo");
  const id = info?.textAt("MessageID");
  if (id) state.conn.answer(tid, P.messageDelivered(id));
  const group = info?.textAt("Recipient", "Group", "GroupID");
  const senderId = info?.textAt("Sender", "User", "UserID");
  const sname = info?.textAt("Sender", "Group", "ScreenName", "SName");
  const from = sname || P.key(senderId) || "?";
  const mine = P.key(state.me);
  // A group hands the sender's own message back: it is shown already.
  if (group && (P.key(senderId) === mine || sname === mine)) return;
  let conv;
  if (group) {
    const g = joined(group);
    conv = `g:${P.key(g.id)}`;
  } else {
    addContact(senderId);
    conv = `u:${P.key(senderId)}`;
  }
  push(conv, { from, text: body.textAt("ContentData") || "", out: false });
  if (state.current !== conv) state.unread.set(conv, (state.unread.get(conv) || 0) + 1);
  redraw();
}

function push(conv, m) {
  if (!state.convs.has(conv)) state.convs.set(conv, []);
  state.convs.get(conv).push(m);
}

function ask(kind, text, ref, options) {
  if (options === undefined) [ref, options] = [null, ref];
  const p = { id: `${kind}-${Math.random().toString(36).slice(2)}`, kind, text, ref, options: [] };
  p.options = options.map(([label, cls, act]) => ({
    label,
    cls,
    act: async () => {
      state.prompts = state.prompts.filter((q) => q !== p);
      redraw();
      try {
        await act();
      } catch (e) {
        ui.banner(e.message);
      }
      redraw();
    },
  }));
  state.prompts.push(p);
}

function askAuthorization(watcher) {
  if (!watcher) return;
  const answer = async (yes) => check(await state.conn.request(P.presenceAuth(watcher, yes)), "answering");
  ask("auth", `${P.key(watcher)} asks to see your presence`, [
    ["Allow", "accept", () => answer(true)],
    ["Deny", "deny", () => answer(false)],
  ]);
}

function askInvitation(body) {
  const inviter = body.textAt("Sender", "User", "UserID");
  const group = body.textAt("GroupID");
  const inviteId = body.textAt("InviteID");
  const answer = async (yes) => {
    check(await state.conn.request(P.inviteUserResponse(inviteId, yes, state.me, inviter)), "answering");
    if (yes && group) await enterGroup(group, false);
  };
  const what = group ? `to the group ${P.key(group)}` : "to share presence";
  ask("invite", `${P.key(inviter)} invites you ${what}`, inviteId, [
    ["Accept", "accept", () => answer(true)],
    ["Decline", "deny", () => answer(false)],
  ]);
}

function askSystem(m) {
  const id = m.textAt("SystemMessageID");
  const options = (m.child("AnswerOptions")?.all("AnswerOption") || []).map((o) => [
    o.textAt("AnswerOptionText"),
    "option",
    async () => check(await state.conn.request(P.systemMessageUser(id, o.textAt("AnswerOptionID"))), "answering"),
  ]);
  if (!options.length) {
    options.push(["OK", "option", async () => check(await state.conn.request(P.systemMessageUser(id, null)), "answering")]);
  }
  ask("system", m.textAt("SystemMessageText") || "", options);
}

// The inviter withdrew an invitation: its question goes.
function invitationWithdrawn(body) {
  const id = body.textAt("InviteID");
  const before = state.prompts.length;
  state.prompts = state.prompts.filter((p) => !(p.kind === "invite" && p.ref === id));
  if (state.prompts.length < before) {
    ui.banner(`${P.key(body.textAt("Sender", "User", "UserID"))} withdrew the invitation`);
  }
}

// An invitation this user sent was answered.
function invitationAnswered(body) {
  const id = body.textAt("InviteID");
  const sent = state.sentInvites.get(id);
  state.sentInvites.delete(id);
  state.prompts = state.prompts.filter((p) => !(p.kind === "sent-invite" && p.ref === id));
  const who = sent ? P.key(sent.user) : P.key(body.textAt("Sender", "User", "UserID")) || "?";
  const yes = body.textAt("Acceptance") === "T";
  ui.banner(`${who} ${yes ? "accepted" : "declined"} the invitation`);
}

// Invites a user into the current group; the invitation waits, with a
// way to cancel it, until it is answered.
async function inviteTyped() {
  const typed = $("invite-user").value.trim();
  const cur = state.current;
  if (!typed || !cur || !cur.startsWith("g:")) return;
  const group = state.groups.get(cur.slice(2)).id;
  const user = P.wireUser(typed);
  const id = `inv${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  check(await state.conn.request(P.invite(id, user, group)), "inviting");
  $("invite-user").value = "";
  state.sentInvites.set(id, { user, group });
  ask("sent-invite", `You invited ${P.key(user)} to ${P.key(group)}`, id, [
    ["Cancel the invitation", "cancel-invite", async () => {
      check(await state.conn.request(P.cancelInvite(id, user, group)), "cancelling");
      state.sentInvites.delete(id);
      ui.banner(`The invitation of ${P.key(user)} was cancelled`);
    }],
  ]);
}

// The WebSocket closed. Unless the server ended the session (it says so
// first) or the user logged out, the network dropped: connect again and
// go on with the same session, whose pushes waited meanwhile.
function onClosed(reason, conn) {
  if (conn !== state.conn || !conn.sessionId || state.loggingOut) return;
  if (state.ended) {
    clearInterval(state.keepAlive);
    ui.ended(state.ended);
    return;
  }
  reconnect(state.conn, reason, 0);
}

const RECONNECT_DELAYS_MS = [1000, 2000, 4000, 8000, 10000];
// Past this many failed tries in a row, the session is given up.
const RECONNECT_TRIES = 30;

function reconnect(old, reason, attempt) {
  if (state.conn !== old || state.loggingOut) return;
  state.reconnecting = true;
  ui.connection("reconnecting");
  ui.banner("The connection dropped; reconnecting…");
  const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)];
  setTimeout(async () => {
    if (state.conn !== old || state.loggingOut) return;
    const conn = new Connection(wsUrl(), onPush, onClosed);
    conn.sessionId = old.sessionId;
    conn.nextTid = old.nextTid;
    try {
      await conn.open();
      // Any request carrying the SessionID binds the new socket to the
      // session; the pushes that waited follow.
      state.conn = conn;
      const r = await conn.request(P.keepAlive());
      if (r.code() >= 300) {
        // The session is gone (expired meanwhile): nothing to resume.
        state.conn = old;
        conn.close();
        clearInterval(state.keepAlive);
        ui.ended(`The session could not be resumed (${r.code()} ${r.description()})`.trim());
        return;
      }
    } catch (e) {
      state.conn = old;
      conn.close();
      if (attempt + 1 >= RECONNECT_TRIES) {
        clearInterval(state.keepAlive);
        ui.ended(reason);
        return;
      }
      reconnect(old, reason, attempt + 1);
      return;
    }
    state.reconnecting = false;
    state.reconnects = (state.reconnects || 0) + 1;
    ui.connection("connected");
    ui.banner("Reconnected: the same session goes on");
    redraw();
  }, delay);
}

// ---- groups ----

function joined(id) {
  const k = P.key(id);
  if (!state.groups.has(k)) state.groups.set(k, { id, members: [] });
  return state.groups.get(k);
}

// Creates or joins a group and opens it.
async function enterGroup(typed, create) {
  const id = typed.includes("/") || typed.toLowerCase().startsWith("wv:") ? P.wireUser(typed) : listId(state.me, typed);
  const sname = P.key(state.me);
  const name = P.key(id).split("/").pop();
  const req = create ? P.createGroup(id, name, sname) : P.joinGroup(id, sname);
  check(await state.conn.request(req), create ? "creating the group" : "joining the group");
  const g = joined(id);
  state.current = `g:${P.key(g.id)}`;
  await refreshMembers(id);
}

async function refreshMembers(id) {
  if (!id) return;
  const g = joined(id);
  const r = await state.conn.request(P.getJoinedUsers(g.id)).catch(() => null);
  if (!r || r.code() >= 300) return;
  const names = [];
  const walk = (n) => (n.name === "SName" ? names.push(n.text) : n.children.forEach(walk));
  walk(r);
  if (!names.length) r.children.forEach(function ids(n) {
    if (n.name === "UserID") names.push(P.key(n.text));
    else n.children.forEach(ids);
  });
  g.members = [...new Set(names)].sort();
  redraw();
}

// ---- what the user does ----

async function act(what) {
  try {
    ui.banner("");
    await what();
  } catch (e) {
    ui.banner(e.message);
  }
  redraw();
}

async function sendCurrent() {
  const text = $("compose").value;
  const cur = state.current;
  if (!text || !cur) return;
  const name = cur.slice(2);
  const to = cur.startsWith("g:") ? { group: state.groups.get(name).id } : { user: state.contacts.get(name).id };
  check(await state.conn.request(P.sendMessage(state.me, to, text)), "sending");
  $("compose").value = "";
  push(cur, { from: P.key(state.me), text, out: true });
}

async function addContactTyped() {
  const typed = $("add-contact").value.trim();
  if (!typed) return;
  const id = P.wireUser(typed);
  check(await state.conn.request(P.listManage(state.list, [[P.key(id), id]])), "adding the contact");
  addContact(id, P.key(id));
  $("add-contact").value = "";
  check(await state.conn.request(P.subscribePresence([id])), "subscribing");
  applyPresence(await state.conn.request(P.getPresence([id])));
}

function wire() {
  const onEnter = (input, f) => $(input).addEventListener("keydown", (e) => e.key === "Enter" && f());
  const doLogin = () =>
    act(async () => {
      ui.loginError("");
      const user = $("login-user").value.trim();
      const password = $("login-password").value;
      let answers = [];
      for (;;) {
        state = fresh();
        try {
          await login(user, password, answers);
          break;
        } catch (e) {
          if (e instanceof HeldForAnswers && !answers.length) {
            answers = await answerHeld(e.messages);
            ui.show("login-screen");
            continue;
          }
          ui.show("login-screen");
          ui.loginError(e.message);
          return;
        }
      }
      $("login-password").value = "";
      ui.me(P.key(state.me));
      ui.show("main-screen");
    });
  $("login-button").addEventListener("click", doLogin);
  onEnter("login-password", doLogin);
  const setStatus = () =>
    act(async () =>
      check(
        await state.conn.request(P.updatePresence($("my-availability").value, $("my-status").value)),
        "setting presence",
      ),
    );
  $("status-set").addEventListener("click", setStatus);
  $("my-availability").addEventListener("change", setStatus);
  onEnter("my-status", setStatus);
  $("send").addEventListener("click", () => act(sendCurrent));
  onEnter("compose", () => act(sendCurrent));
  $("add-contact-button").addEventListener("click", () => act(addContactTyped));
  onEnter("add-contact", () => act(addContactTyped));
  $("group-create").addEventListener("click", () => act(() => enterGroup($("group-id").value.trim(), true)));
  $("group-join").addEventListener("click", () => act(() => enterGroup($("group-id").value.trim(), false)));
  $("invite-button").addEventListener("click", () => act(inviteTyped));
  onEnter("invite-user", () => act(inviteTyped));
  $("logout").addEventListener("click", () =>
    act(async () => {
      state.loggingOut = true;
      await state.conn.request(P.logout()).catch(() => {});
      state.conn.close();
      ui.show("login-screen");
    }),
  );
  $("again").addEventListener("click", () => ui.show("login-screen"));
}

state = fresh();
wire();
