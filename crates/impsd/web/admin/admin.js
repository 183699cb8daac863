// The operator's page: signs in with the admin token (the server answers
// with an HttpOnly cookie and a CSRF token kept here, in memory), lists
// the live sessions and kicks one. SessionIDs go in request bodies only.

const $ = (id) => document.getElementById(id);
let csrf = null;

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

function show(signedIn) {
  $("signin-screen").hidden = signedIn;
  $("ops-screen").hidden = !signedIn;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

async function refresh() {
  const r = await call("sessions");
  if (!r.ok) return;
  const rows = await r.json();
  $("session-count").textContent = `(${rows.length})`;
  const body = $("sessions").tBodies[0];
  body.replaceChildren();
  for (const s of rows.sort((a, b) => a.user.localeCompare(b.user))) {
    const tr = document.createElement("tr");
    tr.dataset.user = s.user;
    for (const v of [s.user, s.client, s.version, when(s.created_ms), when(s.last_seen_ms)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    const kick = document.createElement("button");
    kick.type = "button";
    kick.className = "kick";
    kick.textContent = "Kick";
    kick.addEventListener("click", async () => {
      const k = await call("kick", { id: s.id });
      banner(k.ok ? `${s.user}'s session was ended` : `kick refused (${k.status})`);
      await refresh();
    });
    const td = document.createElement("td");
    td.append(kick);
    tr.append(td);
    body.append(tr);
  }
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
  await refresh();
}

$("signin").addEventListener("click", signIn);
$("token").addEventListener("keydown", (e) => e.key === "Enter" && signIn());
$("refresh").addEventListener("click", refresh);
