/**
 * The dashboard page: one HTML document, its stylesheet and its script,
 * served by `serve` from memory (`/`, `/dashboard.css`, `/dashboard.js`),
 * embedded in the bundle at build time: no CDN, nothing fetched but the
 * JSON API. The script builds every element with DOM APIs and sets every
 * name as `textContent` or an attribute value, never as HTML; the
 * Content-Security-Policy (`headers`) allows scripts, styles and requests
 * from the same origin only.
 *
 * Plain DOM code, no front-end framework: the page is a few tables, two
 * small SVG charts and four requests, which a framework or a chart library
 * would only make larger.
 *
 * @since 0.1.0
 */

/**
 * The security headers of every dashboard response.
 *
 * @since 0.1.0
 * @category constants
 */
export const headers: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store"
}

/**
 * The HTML document.
 *
 * @since 0.1.0
 * @category assets
 */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>redis-streams dashboard</title>
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>redis-streams</h1>
  <span id="status" class="muted">loading…</span>
  <form id="actions" class="actions" hidden>
    <input type="text" name="username" value="redis-streams" autocomplete="username" hidden>
    <label>Token <input id="token" type="password" autocomplete="current-password" size="18"></label>
  </form>
</header>
<p id="message" role="status"></p>
<main id="streams"></main>
<section id="detail"></section>
</body>
</html>
`

/**
 * The stylesheet.
 *
 * @since 0.1.0
 * @category assets
 */
export const css = `
:root { color-scheme: light; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1rem; background: #24292f; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
header .muted { color: #d0d7de; }
header input { font: inherit; }
header form { margin: 0; }
main, #detail { padding: 0 1rem; }
#message { margin: .5rem 1rem; min-height: 1.2em; }
#message.error { color: var(--bad); }
.stream { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: .8rem 0; padding: .6rem .8rem; }
.stream h2 { font-size: 1rem; margin: 0 0 .3rem; word-break: break-all; }
.facts { display: flex; flex-wrap: wrap; gap: 1.2rem; color: var(--muted); }
.facts b { color: #1f2328; }
.charts { display: flex; gap: 1.5rem; margin: .4rem 0; flex-wrap: wrap; }
.chart { font-size: 12px; color: var(--muted); }
.chart svg { display: block; background: #f6f8fa; border: 1px solid var(--line); }
.chart polyline { fill: none; stroke: #0969da; stroke-width: 1.5; }
table { border-collapse: collapse; margin: .3rem 0 .6rem; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; word-break: break-all; }
th { font-weight: 600; color: var(--muted); white-space: nowrap; word-break: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; word-break: normal; }
td.actions { white-space: nowrap; }
.status-OK { color: var(--ok); font-weight: 600; }
.status-IDLE { color: var(--warn); font-weight: 600; }
.status-TOO_MANY_PENDING { color: var(--bad); font-weight: 600; }
.decision-OUT { color: var(--bad); font-weight: 600; }
.decision-IN { color: var(--warn); font-weight: 600; }
.down { color: var(--bad); }
button { font: inherit; cursor: pointer; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: .8rem 0; padding: .6rem .8rem; }
.panel h3 { margin: 0 0 .4rem; font-size: 1rem; word-break: break-all; }
.muted { color: var(--muted); }
`

/**
 * The script (plain ES2020, no template literals).
 *
 * @since 0.1.0
 * @category assets
 */
export const js = String.raw`"use strict";
(function () {
  var REFRESH_MS = 2000;
  var state = { timer: null, actions: false, dlq: null, pending: null };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }
  function td(text, cls) { return el("td", cls ? { "class": cls } : null, [text]); }
  function num(n) { return n === null || n === undefined ? "-" : String(n); }
  function ms(n) {
    if (n === null || n === undefined) return "-";
    if (n < 1000) return n + " ms";
    if (n < 60000) return (n / 1000).toFixed(1) + " s";
    if (n < 3600000) return (n / 60000).toFixed(1) + " min";
    return (n / 3600000).toFixed(1) + " h";
  }
  function rate(r) { return r === null || r === undefined ? "-" : r.toFixed(1) + "/s"; }
  function message(text, isError) {
    var m = document.getElementById("message");
    m.textContent = text;
    m.className = isError ? "error" : "";
  }
  function q(params) {
    return Object.keys(params).filter(function (k) { return params[k] !== undefined && params[k] !== null && params[k] !== ""; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }
  function getJson(path, params) {
    return fetch(path + (params ? "?" + q(params) : ""), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.error || r.statusText); return b; }); });
  }
  function token() { return document.getElementById("token").value; }
  function post(action, body) {
    return fetch("api/actions/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token() },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.error || r.statusText); return b; }); });
  }

  function chart(label, values, testid) {
    var W = 180, H = 40;
    var svgNs = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(svgNs, "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", H);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var pts = values.filter(function (v) { return v !== null; });
    var max = Math.max.apply(null, pts.concat([1]));
    var line = document.createElementNS(svgNs, "polyline");
    var step = values.length > 1 ? W / (values.length - 1) : W;
    line.setAttribute("points", values.map(function (v, i) {
      return (i * step).toFixed(1) + "," + (H - 2 - ((v || 0) / max) * (H - 4)).toFixed(1);
    }).join(" "));
    svg.appendChild(line);
    var last = pts.length ? pts[pts.length - 1] : null;
    return el("div", { "class": "chart", "data-testid": testid }, [
      label + ": " + (last === null ? "-" : (Math.round(last * 10) / 10)) + " (max " + (Math.round(max * 10) / 10) + ")", svg
    ]);
  }

  function consumersTable(s, g) {
    var rows = g.consumers.map(function (c) {
      var show = el("button", { "type": "button" }, ["pending"]);
      show.addEventListener("click", function () { openPending(s.stream, g.name, c.name, null); });
      return el("tr", { "data-consumer": c.name }, [
        td(c.name), td(c.status, "status status-" + c.status), td(ms(c.idleMs), "num idle"), td(num(c.pending), "num pending"),
        el("td", null, [show])
      ]);
    });
    if (!rows.length) rows = [el("tr", null, [el("td", { "colspan": 5, "class": "muted" }, ["no consumers"])])];
    return el("table", { "class": "consumers", "data-group": g.name }, [
      el("thead", null, [el("tr", null, ["Consumer", "Status", "Idle", "Pending", ""].map(function (h) { return el("th", null, [h]); }))]),
      el("tbody", null, rows)
    ]);
  }

  function groupRow(s, g) {
    var cells = [
      td(g.name), td(num(g.lag) + (g.lagExact ? "" : "+"), "num lag"), td(num(g.pending), "num pending"),
      td(ms(g.oldestPendingAgeMs), "num"), td(num(g.maxDeliveries), "num"), td(num(g.deadLetters), "num dead-letters"),
      td(g.scaler.decision, "decision decision-" + g.scaler.decision), td(num(g.scaler.recommended), "num recommended"),
      td(rate(g.scaler.arrivalRate) + " / " + rate(g.scaler.ackRate), "num")
    ];
    var actions = el("td", { "class": "actions" }, []);
    if (state.actions) {
      var b = el("button", { "type": "button", "class": "cleanup" }, ["clean up"]);
      b.addEventListener("click", function () { cleanup(s.stream, g.name); });
      actions.appendChild(b);
    }
    cells.push(actions);
    return el("tr", { "data-group": g.name }, cells);
  }

  function streamSection(s) {
    var box = el("section", { "class": "stream", "data-testid": "stream", "data-stream": s.stream }, [el("h2", null, [s.stream])]);
    if (!s.up) {
      box.appendChild(el("p", { "class": "down" }, ["unavailable: " + s.error]));
      return box;
    }
    var dl = s.groups.length ? s.groups[0].deadLetters : null;
    var open = el("button", { "type": "button", "class": "open-dlq" }, ["dead letters"]);
    open.addEventListener("click", function () { openDlq(s.stream, null, null); });
    box.appendChild(el("div", { "class": "facts" }, [
      el("span", null, ["length ", el("b", { "class": "length" }, [num(s.length)])]),
      el("span", null, ["added ", el("b", null, [num(s.entriesAdded)])]),
      el("span", null, ["groups ", el("b", null, [num(s.groups.length)])]),
      el("span", null, ["dead letters ", el("b", { "class": "dlq-count" }, [num(dl)])]),
      open
    ]));
    box.appendChild(el("div", { "class": "charts" }, [
      chart("backlog", s.history.map(function (h) { return h.backlog; }), "chart-backlog"),
      chart("added/s", s.history.map(function (h) { return h.addedPerSecond; }), "chart-throughput")
    ]));
    var head = ["Group", "Lag", "Pending", "Oldest pending", "Max deliveries", "Dead letters", "Decision", "Recommended", "In / acked", ""];
    box.appendChild(el("table", { "class": "groups" }, [
      el("thead", null, [el("tr", null, head.map(function (h) { return el("th", null, [h]); }))]),
      el("tbody", null, s.groups.map(function (g) { return groupRow(s, g); }))
    ]));
    s.groups.forEach(function (g) {
      box.appendChild(el("div", { "class": "muted" }, ["consumers of " + g.name]));
      box.appendChild(consumersTable(s, g));
    });
    return box;
  }

  function render(o) {
    var main = document.getElementById("streams");
    var nodes = o.streams.map(streamSection);
    if (!nodes.length) nodes = [el("p", { "class": "muted" }, ["no streams" + (o.match ? " match " + o.match : "")])];
    main.replaceChildren.apply(main, nodes);
    document.getElementById("status").textContent = "updated " + new Date(o.at).toLocaleTimeString() + " in " + o.tookMs + " ms" +
      (o.truncated ? " (more streams match: raise --match-limit)" : "");
  }

  function refresh(fresh) {
    if (document.hidden) return Promise.resolve();
    return getJson("api/overview", fresh === true ? { fresh: 1 } : null).then(render, function (e) {
      document.getElementById("status").textContent = "refresh failed: " + e.message;
    });
  }

  function openDlq(stream, after, id) {
    state.dlq = { stream: stream, after: after, id: id };
    return getJson("api/dead-letters", { stream: stream, after: after, id: id }).then(function (p) {
      renderDlq(stream, p, id);
    }, function (e) { message(e.message, true); });
  }

  function dlqRow(stream, d) {
    var cells = [
      td(d.id, "id"), td(d.originalId), td(d.group), td(d.consumer), td(num(d.deliveries), "num"), td(d.error, "reason"),
      td(d.at ? new Date(d.at).toLocaleString() : "-")
    ];
    var act = el("td", { "class": "actions" }, []);
    if (state.actions) {
      var replay = el("button", { "type": "button", "class": "replay" }, ["replay"]);
      replay.addEventListener("click", function () { act1("replay", stream, d.id); });
      var purge = el("button", { "type": "button", "class": "purge" }, ["purge"]);
      purge.addEventListener("click", function () { act1("purge", stream, d.id); });
      act.appendChild(replay); act.appendChild(purge);
    }
    cells.push(act);
    return el("tr", { "data-id": d.id }, cells);
  }

  function renderDlq(stream, p, id) {
    var detail = document.getElementById("detail");
    var search = el("input", { "type": "search", "placeholder": "find by id", "id": "dlq-search", "value": id || "" });
    var go = el("button", { "type": "button" }, ["find"]);
    go.addEventListener("click", function () { openDlq(stream, null, search.value.trim() || null); });
    var close = el("button", { "type": "button" }, ["close"]);
    close.addEventListener("click", function () { state.dlq = null; detail.replaceChildren(); });
    var rows = p.deadLetters.map(function (d) { return dlqRow(stream, d); });
    if (!rows.length) rows = [el("tr", null, [el("td", { "colspan": 8, "class": "muted" }, ["no dead letters"])])];
    var panel = el("div", { "class": "panel", "id": "dlq", "data-stream": stream }, [
      el("h3", null, ["Dead letters of " + stream + " (" + p.deadLetterStream + "): " + p.length]),
      el("div", null, [search, go, close]),
      el("table", null, [
        el("thead", null, [el("tr", null, ["Id", "Original id", "Group", "Consumer", "Deliveries", "Reason", "At", ""].map(function (h) { return el("th", null, [h]); }))]),
        el("tbody", null, rows)
      ])
    ]);
    if (p.next) {
      var more = el("button", { "type": "button", "class": "next" }, ["next page"]);
      more.addEventListener("click", function () { openDlq(stream, p.next, null); });
      panel.appendChild(more);
    }
    detail.replaceChildren(panel);
  }

  function openPending(stream, group, consumer, after) {
    return getJson("api/pending", { stream: stream, group: group, consumer: consumer, after: after, count: 50 }).then(function (p) {
      var detail = document.getElementById("detail");
      var rows = p.entries.map(function (e) {
        return el("tr", { "data-id": e.id }, [td(e.id), td(e.consumer), td(ms(e.idleMs), "num"), td(num(e.deliveries), "num")]);
      });
      if (!rows.length) rows = [el("tr", null, [el("td", { "colspan": 4, "class": "muted" }, ["nothing pending"])])];
      var close = el("button", { "type": "button" }, ["close"]);
      close.addEventListener("click", function () { detail.replaceChildren(); });
      var panel = el("div", { "class": "panel", "id": "pending" }, [
        el("h3", null, ["Pending of " + consumer + " in " + group + " on " + stream]), close,
        el("table", null, [
          el("thead", null, [el("tr", null, ["Id", "Consumer", "Idle", "Deliveries"].map(function (h) { return el("th", null, [h]); }))]),
          el("tbody", null, rows)
        ])
      ]);
      if (p.next) {
        var more = el("button", { "type": "button", "class": "next" }, ["next page"]);
        more.addEventListener("click", function () { openPending(stream, group, consumer, p.next); });
        panel.appendChild(more);
      }
      state.dlq = null;
      detail.replaceChildren(panel);
    }, function (e) { message(e.message, true); });
  }

  function act1(action, stream, id) {
    return post(action, { stream: stream, ids: [id] }).then(function (r) {
      message(action === "replay"
        ? "replayed " + r.replayed.length + (r.replayed.length ? " as " + r.replayed[0].newId : "")
        : "purged " + r.deleted, false);
      refresh(true);
      if (state.dlq) openDlq(state.dlq.stream, null, null);
    }, function (e) { message(action + " refused: " + e.message, true); });
  }

  function cleanup(stream, group) {
    return post("cleanup", { stream: stream, group: group }).then(function (r) {
      message("cleanup of " + group + ": " + r.deleted + " consumers deleted, " + r.claimed + " entries moved", false);
      refresh(true);
    }, function (e) { message("cleanup refused: " + e.message, true); });
  }

  function start() {
    getJson("api/config").then(function (c) {
      state.actions = c.actions;
      document.getElementById("actions").hidden = !c.actions;
      document.getElementById("actions").addEventListener("submit", function (e) { e.preventDefault(); });
      var t = document.getElementById("token");
      try { t.value = sessionStorage.getItem("redis-streams-token") || ""; } catch (e) {}
      t.addEventListener("change", function () { try { sessionStorage.setItem("redis-streams-token", t.value); } catch (e) {} });
      return refresh();
    }, function (e) { message(e.message, true); });
    state.timer = setInterval(function () { refresh(false); }, REFRESH_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(false); });
  }
  start();
})();
`
