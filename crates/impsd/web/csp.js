// CSP 1.3 in XML over impsd's WebSocket binding: building and reading
// the element tree, the message envelope, and a connection that matches
// answers to requests by TransactionID and hands the server's own
// requests (pushes) to a callback. Knows no user interface.

const NS = {
  csp: "http://www.openmobilealliance.org/DTD/IMPS-CSP1.3",
  trc: "http://www.openmobilealliance.org/DTD/IMPS-TRC1.3",
  pa: "http://www.openmobilealliance.org/DTD/IMPS-PA1.3",
};

// How long a request waits for its answer before it is given up.
const REQUEST_TIMEOUT_MS = 30000;

// An element: a name and its children, each an element or a text.
// Null and undefined children are left out; arrays are spread.
export function el(name, ...kids) {
  return { name, kids: kids.flat(Infinity).filter((k) => k !== null && k !== undefined) };
}

// An element holding one text.
export function txt(name, value) {
  return el(name, String(value));
}

function escape(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// Elements that open a vocabulary of their own.
const CHILD_NS = { TransactionContent: NS.trc, PresenceSubList: NS.pa };

function write(node, ns) {
  if (typeof node === "string") return escape(node);
  const attr = ns ? ` xmlns="${ns}"` : "";
  const inner = node.kids.map((k) => write(k, typeof k === "string" ? null : CHILD_NS[k.name])).join("");
  return `<${node.name}${attr}>${inner}</${node.name}>`;
}

// A read element: name (without namespace), text, children, and the
// lookups the client needs.
class Node {
  constructor(dom) {
    this.name = dom.localName;
    this.children = Array.from(dom.children).map((c) => new Node(c));
    this.text = this.children.length ? "" : dom.textContent;
  }
  child(name) {
    return this.children.find((c) => c.name === name) || null;
  }
  all(name) {
    return this.children.filter((c) => c.name === name);
  }
  // The element at a path of child names, or null.
  at(...names) {
    let n = this;
    for (const name of names) {
      n = n && n.child(name);
    }
    return n;
  }
  // The text at a path of child names, or null.
  textAt(...names) {
    const n = this.at(...names);
    return n ? n.text : null;
  }
  // Result/Code as a number (200 when the primitive has no Result).
  code() {
    const c = this.textAt("Result", "Code");
    return c === null ? 200 : Number(c);
  }
  description() {
    return this.textAt("Result", "Description") || "";
  }
}

function envelope(sessionId, mode, tid, body) {
  const descriptor = sessionId
    ? el("SessionDescriptor", txt("SessionType", "Inband"), txt("SessionID", sessionId))
    : el("SessionDescriptor", txt("SessionType", "Outband"));
  const t = el(
    "Transaction",
    el("TransactionDescriptor", txt("TransactionMode", mode), tid === null ? null : txt("TransactionID", tid)),
    el("TransactionContent", body),
  );
  return write(el("WV-CSP-Message", el("Session", descriptor, t)), NS.csp);
}

// Reads one message into its transactions: {mode, tid, body}.
export function parse(xml) {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) {
    throw new Error("the server sent XML that does not parse");
  }
  const root = new Node(doc.documentElement);
  const out = [];
  for (const t of root.at("Session").all("Transaction")) {
    const d = t.child("TransactionDescriptor");
    const content = t.child("TransactionContent");
    if (!content || !content.children.length) continue;
    out.push({
      mode: d ? d.textAt("TransactionMode") : "Request",
      tid: d ? d.textAt("TransactionID") : null,
      body: content.children[0],
    });
  }
  return out;
}

// One WebSocket carrying one session. `onPush(tid, body)` gets every
// request the server sends; `onClose(reason, connection)` is called once,
// unless `close()` ended it.
export class Connection {
  constructor(url, onPush, onClose) {
    this.url = url;
    this.onPush = onPush;
    this.onClose = onClose;
    this.sessionId = null;
    this.nextTid = 1;
    this.pending = new Map();
    this.closed = false;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("the WebSocket did not open"));
      ws.onmessage = (ev) => this.receive(ev.data);
      ws.onclose = () => this.ended("the server closed the connection");
    });
  }

  receive(data) {
    if (typeof data !== "string") return;
    let transactions;
    try {
      transactions = parse(data);
    } catch (e) {
      console.warn(e);
      return;
    }
    for (const t of transactions) {
      const waiter = t.mode === "Response" && this.pending.get(t.tid);
      if (waiter) {
        this.pending.delete(t.tid);
        waiter.resolve(t.body);
      } else if (t.mode !== "Response") {
        this.onPush(t.tid, t.body);
      }
    }
  }

  ended(reason) {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.pending.values()) w.reject(new Error(reason));
    this.pending.clear();
    this.onClose(reason, this);
  }

  // A new TransactionID, for a request that must reuse it (digest login).
  tid() {
    return String(this.nextTid++);
  }

  // Sends a request and waits for its answer primitive.
  request(body, tid = this.tid()) {
    if (this.closed) return Promise.reject(new Error("not connected"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(tid);
        reject(new Error(`no answer to ${body.name}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(tid, {
        resolve: (b) => (clearTimeout(timer), resolve(b)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.ws.send(envelope(this.sessionId, "Request", tid, body));
    });
  }

  // Answers a server request under its TransactionID.
  answer(tid, body) {
    if (!this.closed) this.ws.send(envelope(this.sessionId, "Response", tid, body));
  }

  // Status 200, the plain answer to a server request.
  ok(tid) {
    this.answer(tid, el("Status", el("Result", txt("Code", 200))));
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}
