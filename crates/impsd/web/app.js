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

async function login(user, password) {
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
      resp = await conn.request(P.login(user, { digest }, cookie), tid);
    }
  }
  if (!resp) resp = await conn.request(P.login(user, { password }, cookie));
  const sid = resp.textAt("SessionID");
  if (resp.code() !== 200 || !sid) {
    conn.close();
    throw new Error(resp.description() || `login refused (${resp.code()})`);
  }
  conn.sessionId = sid;
  state.me = resp.textAt("UserID") || P.wireUser(user);
  check(await conn.request(P.clientCapability()), "capabilities");
  check(await conn.request(P.serviceAll()), "services");
  check(await conn.request(P.updatePresence("AVAILABLE", null)), "presence");
  const every = Number(resp.textAt("KeepAliveTime")) || 600;
  state.keepAlive = setInterval(() => conn.request(P.keepAlive()).catch(() => {}), every * 800);
  await loadContacts();
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

function ask(kind, text, options) {
  const p = { id: `${kind}-${Math.random().toString(36).slice(2)}`, kind, text, options: [] };
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
  ask("invite", `${P.key(inviter)} invites you ${what}`, [
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

function onClosed(reason) {
  clearInterval(state.keepAlive);
  if (state.conn && state.conn.sessionId && !state.loggingOut) ui.ended(state.ended || reason);
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
      state = fresh();
      try {
        await login($("login-user").value.trim(), $("login-password").value);
      } catch (e) {
        ui.loginError(e.message);
        return;
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
