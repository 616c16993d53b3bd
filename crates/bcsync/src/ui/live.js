// bcsync ui, live debugger: appends the requests of a running run as they happen, from
// the server-sent events of /runs/ID/requests/stream. Without JavaScript the page still
// shows the requests logged when it was loaded.
(function () {
  "use strict";
  var body = document.getElementById("requests-body");
  if (!body || !window.EventSource) return;
  var run = body.getAttribute("data-run");
  var after = body.getAttribute("data-after");
  var count = document.getElementById("requests-count");
  var note = document.getElementById("live-note");
  var shown = body.rows.length;
  var url = "/runs/" + run + "/requests/stream" + (after ? "?after=" + after : "");
  var source = new EventSource(url);
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  // A request's captured headers and bodies (redacted before they were stored), under
  // its path, as the server renders them: <details> opened by a click.
  function captured(code, c) {
    var details = document.createElement("details");
    details.className = "capture";
    var summary = document.createElement("summary");
    summary.appendChild(code);
    details.appendChild(summary);
    var div = document.createElement("div");
    div.className = "captured";
    function add(tag, text, cls) {
      var el = document.createElement(tag);
      if (cls) el.className = cls;
      el.textContent = text;
      div.appendChild(el);
    }
    function headers(title, h) {
      add("h3", title);
      add("pre", (h || []).map(function (p) { return p[0] + ": " + p[1]; }).join("\n"));
    }
    function body(title, b) {
      add("h3", title);
      if (!b) return add("p", "No body.", "meta");
      var text = b.text;
      if (!b.truncated) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (err) { /* not JSON */ }
      }
      add("pre", text);
      if (b.truncated) add("p", "Cut: the first " + b.text.length + " of " + b.bytes + " bytes.", "meta");
    }
    headers("Request headers", c.request_headers);
    body("Request body", c.request_body);
    headers("Response headers", c.response_headers);
    body("Response body", c.response_body);
    details.appendChild(div);
    var off = document.getElementById("capture-note");
    if (off) off.parentNode.removeChild(off);
    return details;
  }
  // Past the captures a page holds inline: a link to the request's own page.
  function link(code, seq) {
    var a = document.createElement("a");
    a.className = "capture";
    a.href = "/runs/" + run + "/requests/" + seq;
    a.appendChild(code);
    var off = document.getElementById("capture-note");
    if (off) off.parentNode.removeChild(off);
    return a;
  }
  source.addEventListener("request", function (e) {
    var q = JSON.parse(e.data);
    var tr = document.createElement("tr");
    cell(tr, String(q.seq + 1), "n");
    cell(tr, q.method);
    var code = document.createElement("code");
    code.textContent = q.path;
    if (q.capture) cell(tr, "").appendChild(captured(code, q.capture));
    else if (q.captured) cell(tr, "").appendChild(link(code, q.seq));
    else cell(tr, "").appendChild(code);
    var span = document.createElement("span");
    span.textContent = q.status == null ? "—" : String(q.status);
    if (!(q.status >= 200 && q.status < 300)) span.className = "bad";
    if (q.error) span.title = q.error;
    cell(tr, "", "n").appendChild(span);
    cell(tr, String(q.ms), "n");
    cell(tr, q.rate_left == null ? "—" : String(q.rate_left), "n");
    cell(tr, q.retried ? "retried" : q.attempt > 1 ? "try " + q.attempt : "");
    body.appendChild(tr);
    shown += 1;
    if (count) count.textContent = String(shown);
  });
  source.addEventListener("end", function (e) {
    source.close();
    if (note) note.textContent = "The run ended (" + e.data + "): reload for its final counts.";
  });
})();
