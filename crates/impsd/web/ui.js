// Drawing the page from the client's state. Every text from the network
// goes in through textContent, never as markup.

const $ = (id) => document.getElementById(id);

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

// The presence a contact shows: offline, available, busy or away.
export function presenceState(c) {
  if (!c.online) return "offline";
  return { DISCREET: "busy", NOT_AVAILABLE: "away" }[c.availability] || "available";
}

export function show(screen) {
  for (const s of ["login-screen", "terms-screen", "main-screen", "ended-screen"]) $(s).hidden = s !== screen;
}

export function loginError(text) {
  $("login-error").textContent = text;
}

export function banner(text) {
  $("banner").textContent = text;
  $("banner").hidden = !text;
}

export function me(name) {
  $("me").textContent = name;
}

export function ended(reason) {
  $("ended-reason").textContent = reason;
  show("ended-screen");
}

export function contacts(state, open) {
  const ul = $("contacts");
  ul.replaceChildren();
  for (const [k, c] of [...state.contacts].sort((a, b) => a[0].localeCompare(b[0]))) {
    const li = node("li", "contact");
    li.dataset.user = k;
    const dot = node("span", "dot");
    dot.dataset.state = presenceState(c);
    li.append(dot, node("span", "name", c.nick || k));
    const unread = state.unread.get(`u:${k}`);
    if (unread) li.append(node("span", "unread", String(unread)));
    li.append(node("span", "presence", presenceState(c)));
    li.lastChild.hidden = true;
    li.append(node("span", "status-text", c.text || ""));
    if (state.current === `u:${k}`) li.classList.add("selected");
    li.addEventListener("click", () => open(`u:${k}`));
    ul.append(li);
  }
}

export function groups(state, open) {
  const ul = $("groups");
  ul.replaceChildren();
  for (const [k, g] of state.groups) {
    const li = node("li", "group", k);
    li.dataset.group = k;
    const unread = state.unread.get(`g:${k}`);
    if (unread) li.append(node("span", "unread", String(unread)));
    if (state.current === `g:${k}`) li.classList.add("selected");
    li.addEventListener("click", () => open(`g:${k}`));
    ul.append(li);
    void g;
  }
}

export function conversation(state) {
  const cur = state.current;
  const box = $("messages");
  box.replaceChildren();
  $("compose").disabled = !cur;
  $("send").disabled = !cur;
  $("invite-row").hidden = !(cur && cur.startsWith("g:"));
  if (!cur) return;
  const name = cur.slice(2);
  $("chat-title").textContent = cur.startsWith("g:") ? `Group ${name}` : `Chat with ${name}`;
  const g = cur.startsWith("g:") && state.groups.get(name);
  $("chat-members").textContent = g ? `In the group: ${g.members.join(", ")}` : "";
  for (const m of state.convs.get(cur) || []) {
    const d = node("div", m.out ? "msg out" : "msg in");
    d.append(node("span", "from", m.from), node("span", "text", m.text));
    box.append(d);
  }
  box.scrollTop = box.scrollHeight;
}

// A question waiting for the user: a text and its answers, each a label
// and what to do when chosen.
export function prompts(state) {
  const div = $("prompts");
  div.replaceChildren();
  for (const p of state.prompts) {
    const d = node("div", `prompt ${p.kind}`);
    d.dataset.id = p.id;
    d.append(node("p", "text", p.text));
    for (const o of p.options) {
      const b = node("button", o.cls || "", o.label);
      b.type = "button";
      b.addEventListener("click", () => o.act());
      d.append(b);
    }
    div.append(d);
  }
}

// A question the server asks before the login completes: its text and a
// button per answer; `chosen(optionId)` gets the answer.
export function terms(text, options, chosen) {
  $("terms-text").textContent = text;
  const box = $("terms-options");
  box.replaceChildren();
  for (const o of options) {
    const b = node("button", "terms-option", o.text);
    b.type = "button";
    b.addEventListener("click", () => chosen(o.id));
    box.append(b);
  }
  show("terms-screen");
  box.firstChild?.focus();
}

// The state of the connection: connected or reconnecting.
export function connection(state) {
  const c = $("connection");
  c.dataset.state = state;
  c.textContent = state === "connected" ? "" : "Reconnecting…";
  c.hidden = state === "connected";
}
