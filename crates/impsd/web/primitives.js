// The CSP 1.3 requests the page sends, each built from its primitive's
// element structure (the same shapes as imps-client's cli/build.rs), and
// the address forms the wire wants.

import { el, txt } from "./csp.js";

export const CLIENT_ID = "impsd-web";

// `bob` -> `wv:bob`; the server adds its own domain.
export function wireUser(typed) {
  const t = typed.trim();
  return /^wv:/i.test(t) ? `wv:${t.slice(3)}` : `wv:${t}`;
}

// The comparison key of a user or group: `wv:Bob@host` -> `bob`.
export function key(id) {
  let t = (id || "").trim().replace(/^wv:/i, "");
  const at = t.lastIndexOf("@");
  if (at > 0) t = t.slice(0, at);
  return t.toLowerCase();
}

const clientId = () => el("ClientID", txt("URL", CLIENT_ID));

const property = (name, value) => el("Property", txt("Name", name), txt("Value", value));

const attr = (name, value) => el(name, txt("Qualifier", "T"), txt("PresenceValue", value));

const users = (ids) => el("UserIDList", ids.map((u) => txt("UserID", u)));

// `answers`: [[SystemMessageID, ChosenOptionID]] to the system messages
// that held an earlier try (the operator's terms, 1.3).
export function login(user, auth, cookie, answers = []) {
  return el(
    "Login-Request",
    txt("UserID", user),
    clientId(),
    auth.password !== undefined ? txt("Password", auth.password) : null,
    auth.digest !== undefined ? txt("DigestBytes", auth.digest) : null,
    txt("TimeToLive", 3600),
    txt("SessionCookie", cookie),
    auth.schema ? txt("DigestSchema", auth.schema) : null,
    answers.length
      ? el(
          "SystemMessageResponseList",
          answers.map(([id, option]) =>
            el("SystemMessageResponse", txt("SystemMessageID", id), option ? txt("ChosenOptionID", option) : null),
          ),
        )
      : null,
  );
}

// `Base64(SHA-1(nonce ‖ password))`, both as ISO-8859-1 bytes (a
// character above U+00FF counts as `?`), as imps_wire computes it.
export async function digest(nonce, password) {
  const bytes = Uint8Array.from(Array.from(nonce + password), (c) => {
    const n = c.codePointAt(0);
    return n <= 0xff ? n : 0x3f;
  });
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
  return btoa(String.fromCharCode(...hash));
}

// Pushed delivery: the WebSocket carries every server request.
export function clientCapability() {
  return el(
    "ClientCapability-Request",
    clientId(),
    el(
      "CapabilityList",
      txt("ClientType", "COMPUTER"),
      txt("InitialDeliveryMethod", "P"),
      txt("MultiTrans", 1),
      txt("SupportedBearer", "HTTP"),
    ),
  );
}

export function serviceAll() {
  const feats = el("WVCSPFeat", el("FundamentalFeat"), el("PresenceFeat"), el("IMFeat"), el("GroupFeat"));
  return el("Service-Request", clientId(), el("Functions", feats), txt("AllFunctionsRequest", "T"));
}

export const keepAlive = () => el("KeepAlive-Request", txt("TimeToLive", 3600));
export const logout = () => el("Logout-Request");
export const getList = () => el("GetList-Request");

export function createList(list) {
  return el(
    "CreateList-Request",
    txt("ContactList", list),
    el("ContactListProperties", property("DisplayName", "Friends"), property("Default", "T")),
  );
}

// Reads the list's members (ReceiveList), adding `add` ([nick, user]) first.
export function listManage(list, add = []) {
  return el(
    "ListManage-Request",
    txt("ContactList", list),
    add.length ? el("AddNickList", add.map(([nick, u]) => el("NickName", txt("Name", nick), txt("UserID", u)))) : null,
    txt("ReceiveList", "T"),
  );
}

export function updatePresence(availability, text) {
  return el(
    "UpdatePresence-Request",
    el(
      "PresenceSubList",
      attr("OnlineStatus", "T"),
      availability ? attr("UserAvailability", availability) : null,
      text !== null && text !== undefined ? attr("StatusText", text) : null,
    ),
  );
}

export function getPresence(ids) {
  return el("GetPresence-Request", users(ids));
}

export function subscribePresence(ids, lists = []) {
  return el(
    "SubscribePresence-Request",
    ids.length ? users(ids) : null,
    lists.length ? el("ContactListIDList", lists.map((l) => txt("ContactList", l))) : null,
  );
}

// The answer to a reactive authorization question.
export function presenceAuth(watcher, accept) {
  return el("PresenceAuth-User", txt("UserID", watcher), txt("Acceptance", accept ? "T" : "F"));
}

// text/plain to a user (`{user}`) or a group (`{group}`). ContentSize
// counts UTF-8 bytes.
export function sendMessage(me, to, text) {
  const recipient = to.group
    ? el("Recipient", el("Group", txt("GroupID", to.group)))
    : el("Recipient", el("User", txt("UserID", to.user)));
  return el(
    "SendMessage-Request",
    txt("DeliveryReport", "F"),
    el(
      "MessageInfo",
      txt("ContentType", "text/plain"),
      txt("ContentSize", new TextEncoder().encode(text).length),
      recipient,
      el("Sender", el("User", txt("UserID", me))),
    ),
    txt("ContentData", text),
  );
}

export const messageDelivered = (id) => el("MessageDelivered", txt("MessageID", id));

const screenName = (sname, group) => el("ScreenName", txt("SName", sname), txt("GroupID", group));

export function createGroup(group, name, sname) {
  return el(
    "CreateGroup-Request",
    txt("GroupID", group),
    el("GroupProperties", property("Name", name), property("Accesstype", "Open")),
    txt("JoinGroup", "T"),
    screenName(sname, group),
    txt("SubscribeNotification", "T"),
  );
}

export function joinGroup(group, sname) {
  return el(
    "JoinGroup-Request",
    txt("GroupID", group),
    screenName(sname, group),
    txt("JoinedRequest", "T"),
    txt("SubscribeNotification", "T"),
  );
}

export const getJoinedUsers = (group) => el("GetJoinedUsers-Request", txt("GroupID", group));

export function inviteUserResponse(inviteId, accept, me, inviter) {
  return el(
    "InviteUser-Response",
    txt("InviteID", inviteId),
    txt("Acceptance", accept ? "T" : "F"),
    el("Sender", el("User", txt("UserID", me))),
    el("Recipient", el("User", txt("UserID", inviter))),
  );
}

export function systemMessageUser(id, option) {
  return el(
    "SystemMessage-User",
    el(
      "SystemMessageResponseList",
      el("SystemMessageResponse", txt("SystemMessageID", id), option ? txt("ChosenOptionID", option) : null),
    ),
  );
}

// An invitation of `user` into `group` (InviteType GR).
export function invite(inviteId, user, group, note) {
  return el(
    "Invite-Request",
    txt("InviteID", inviteId),
    txt("InviteType", "GR"),
    el("Recipient", el("User", txt("UserID", user))),
    txt("GroupID", group),
    note ? txt("InviteNote", note) : null,
  );
}

export function cancelInvite(inviteId, user, group) {
  return el(
    "CancelInvite-Request",
    txt("InviteID", inviteId),
    el("Recipient", el("User", txt("UserID", user))),
    group ? txt("GroupID", group) : null,
  );
}
