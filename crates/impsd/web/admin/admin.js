// The operator's page: signs in with the admin token (the server answers
// with an HttpOnly cookie and a CSRF token kept here, in memory), then
// shows live sessions (kick), users (add, disable, new password), groups,
// system messages (send, answers), federation peers and graphs of the
// last hour drawn as inline SVG. Every action is a JSON POST carrying
// the CSRF token in a header; SessionIDs go in request bodies only.

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let csrf = null;
let usersOffset = 0;
let usersLimit = 50;
let current = "sessions-tab";

function banner(text) {
  $("banner").textContent = text;
  $("banner").hidden = !text;
}

async function call(path, body) {
  const init = body === undefined
    ? { credentials: "same-origin" }
    : {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf || "" },
        body: JSON.stringify(body),
      };
  const r = await fetch(path, init);
  if (r.status === 401) {
    csrf = null;
    show(false);
  }
  return r;
}

async function getJson(path) {
  const r = await call(path);
  return r.ok ? r.json() : null;
}

function show(signedIn) {
  $("signin-screen").hidden = signedIn;
  $("ops-screen").hidden = !signedIn;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

function cell(tr, value) {
  const td = document.createElement("td");
  if (value instanceof Node) td.append(value);
  else td.textContent = value ?? "";
  tr.append(td);
  return td;
}

function button(text, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

async function refreshSessions() {
  const rows = await getJson("sessions");
  if (!rows) return;
  $("session-count").textContent = `(${rows.length})`;
  const body = $("sessions").tBodies[0];
  body.replaceChildren();
  for (const s of rows.sort((a, b) => a.user.localeCompare(b.user))) {
    const tr = document.createElement("tr");
    tr.dataset.user = s.user;
    for (const v of [s.user, s.client, s.version, when(s.created_ms), when(s.last_seen_ms)]) cell(tr, v);
    cell(tr, button("Kick", "kick", async () => {
      const k = await call("kick", { id: s.id });
      banner(k.ok ? `${s.user}'s session was ended` : `kick refused (${k.status})`);
      await refreshSessions();
    }));
    body.append(tr);
  }
}

async function outcome(r, done) {
  if (r.ok) banner(done);
  else banner(`refused (${r.status}): ${await r.text()}`);
}

async function refreshUsers() {
  const page = await getJson(`users?offset=${usersOffset}`);
  if (!page) return;
  usersLimit = page.limit;
  usersOffset = page.offset;
  $("user-count").textContent = `(${page.total})`;
  const last = Math.min(page.offset + page.rows.length, page.total);
  $("users-range").textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : "none";
  $("users-prev").disabled = page.offset === 0;
  $("users-next").disabled = last >= page.total;
  const body = $("users").tBodies[0];
  body.replaceChildren();
  for (const u of page.rows) {
    const tr = document.createElement("tr");
    tr.dataset.user = u.id;
    cell(tr, u.id);
    cell(tr, u.friendly_name);
    cell(tr, u.enabled ? "enabled" : "disabled").className = "state";
    cell(tr, String(u.sessions));
    const actions = cell(tr, "");
    if (u.enabled) {
      actions.append(button("Disable", "disable", async () => {
        await outcome(await call("user-disable", { user: u.id }), `${u.id} is disabled`);
        await refreshUsers();
      }));
    }
    const pw = document.createElement("input");
    pw.type = "password";
    pw.className = "new-pw";
    pw.autocomplete = "new-password";
    pw.setAttribute("aria-label", `New password for ${u.id}`);
    actions.append(pw, button(u.enabled ? "Set password" : "Enable with password", "set-pw", async () => {
      await outcome(await call("user-password", { user: u.id, password: pw.value }),
        `${u.id} has a new password`);
      await refreshUsers();
    }));
    body.append(tr);
  }
}

async function addUser() {
  const r = await call("user-add", { user: $("new-user").value, password: $("new-password").value });
  await outcome(r, `${$("new-user").value} was added`);
  if (r.ok) {
    $("new-user").value = "";
    $("new-password").value = "";
  }
  await refreshUsers();
}

async function refreshGroups() {
  const page = await getJson("groups");
  if (!page) return;
  $("group-count").textContent = `(${page.total})`;
  const body = $("groups").tBodies[0];
  body.replaceChildren();
  for (const g of page.rows) {
    const tr = document.createElement("tr");
    tr.dataset.group = g.id;
    cell(tr, g.id);
    cell(tr, g.name || (g.private ? "(private conversation)" : ""));
    cell(tr, g.owner);
    cell(tr, g.members.map(([u, a]) => `${u} (${a})`).join(", "));
    cell(tr, g.joined.join(", "));
    body.append(tr);
  }
}

async function refreshSysmsgs() {
  const rows = await getJson("sysmsgs");
  if (!rows) return;
  const body = $("sysmsgs").tBodies[0];
  body.replaceChildren();
  for (const m of rows.sort((a, b) => b.created_ms - a.created_ms)) {
    const tr = document.createElement("tr");
    tr.dataset.id = m.id;
    cell(tr, m.text);
    cell(tr, m.options.map(([, t]) => t).join(" / "));
    cell(tr, m.everyone ? "everyone" : m.deliveries.map((d) => d.user).join(", "));
    const answered = m.deliveries.filter((d) => d.answered_ms);
    cell(tr, answered.map((d) => `${d.user}: ${d.chosen_text ?? "answered"}`).join("; ")).className = "answers";
    body.append(tr);
  }
}

async function sendSysmsg() {
  const to = $("sysmsg-to").value.trim();
  const options = $("sysmsg-options").value.split("\n").map((s) => s.trim()).filter(Boolean);
  const req = {
    text: $("sysmsg-text").value,
    options,
    requires_response: $("sysmsg-required").checked,
  };
  if (to) req.to = [to];
  else req.all = true;
  await outcome(await call("sysmsg-send", req), "the system message was sent");
  await refreshSysmsgs();
}

async function refreshPeers() {
  const rows = await getJson("peers");
  if (!rows) return;
  $("peer-count").textContent = rows.length ? `(${rows.length})` : "(federation is off or has no peers)";
  const body = $("peers").tBodies[0];
  body.replaceChildren();
  for (const p of rows) {
    const tr = document.createElement("tr");
    tr.dataset.domain = p.domain;
    for (const v of [p.domain, p.state, String(p.queue_depth), String(p.sent), String(p.failures), p.last_error]) cell(tr, v);
    body.append(tr);
  }
}

// One graph: a polyline per series over the samples, scaled to the
// highest value seen; the latest values in words below for screen
// readers and for reading exact figures.
function graph(id, title, samples, series, unit) {
  const box = document.createElement("figure");
  box.className = "graph";
  box.id = id;
  const h = document.createElement("h3");
  h.textContent = title;
  const W = 300, H = 100;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  const axis = document.createElementNS(SVG, "line");
  axis.setAttribute("class", "axis");
  axis.setAttribute("x1", "0"); axis.setAttribute("y1", String(H - 1));
  axis.setAttribute("x2", String(W)); axis.setAttribute("y2", String(H - 1));
  svg.append(axis);
  let max = 0;
  for (const [, f] of series) for (const s of samples) max = Math.max(max, f(s) ?? 0);
  const scale = max > 0 ? (H - 4) / max : 0;
  const n = Math.max(samples.length - 1, 1);
  series.forEach(([, f], i) => {
    const pts = samples.map((s, k) => `${((k / n) * W).toFixed(1)},${(H - 1 - (f(s) ?? 0) * scale).toFixed(1)}`);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", i ? "line second" : "line");
    line.setAttribute("points", pts.join(" "));
    svg.append(line);
  });
  const last = document.createElement("figcaption");
  last.className = "last";
  const latest = samples[samples.length - 1];
  last.textContent = latest
    ? series.map(([name, f]) => `${name}: ${fmt(f(latest))}${unit}`).join(", ") + `; highest ${fmt(max)}${unit}`
    : "no samples yet";
  box.append(h, svg, last);
  return box;
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

async function refreshGraphs() {
  const g = await getJson("graphs");
  if (!g) return;
  const s = g.samples;
  $("graph-span").textContent = `(${s.length} samples, one every ${g.sample_secs} s)`;
  const mb = (x) => (x.rss_bytes == null ? null : x.rss_bytes / 1048576);
  $("graphs").replaceChildren(
    graph("graph-logins", "Logins per sample", s, [["logins", (x) => x.logins]], ""),
    graph("graph-messages", "Messages sent per sample", s, [["messages", (x) => x.messages]], ""),
    graph("graph-latency", "Transaction latency (p50, p99)", s, [["p50", (x) => x.p50_ms], ["p99", (x) => x.p99_ms]], " ms"),
    graph("graph-connections", "Sessions and connections", s, [["sessions", (x) => x.sessions], ["connections", (x) => x.connections]], ""),
    graph("graph-memory", "Process memory (RSS)", s, [["RSS", mb]], " MiB"),
  );
}

const REFRESH = {
  "sessions-tab": refreshSessions,
  "users-tab": refreshUsers,
  "groups-tab": refreshGroups,
  "sysmsg-tab": refreshSysmsgs,
  "peers-tab": refreshPeers,
  "graphs-tab": refreshGraphs,
};

async function open(tab) {
  current = tab;
  banner("");
  for (const b of document.querySelectorAll(".tab")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  }
  for (const p of document.querySelectorAll(".tab-panel")) p.hidden = p.id !== tab;
  await REFRESH[tab]();
}

async function signIn() {
  $("signin-error").textContent = "";
  const r = await fetch("login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  if (!r.ok) {
    $("signin-error").textContent = r.status === 401 ? "wrong token" : `refused (${r.status})`;
    return;
  }
  csrf = (await r.json()).csrf;
  $("token").value = "";
  show(true);
  await open(current);
}

$("signin").addEventListener("click", signIn);
$("token").addEventListener("keydown", (e) => e.key === "Enter" && signIn());
$("refresh").addEventListener("click", () => REFRESH[current]());
for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => open(b.dataset.tab));
$("add-user").addEventListener("click", addUser);
$("users-prev").addEventListener("click", () => { usersOffset = Math.max(0, usersOffset - usersLimit); refreshUsers(); });
$("users-next").addEventListener("click", () => { usersOffset += usersLimit; refreshUsers(); });
$("sysmsg-send").addEventListener("click", sendSysmsg);
