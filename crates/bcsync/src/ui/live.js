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
  source.addEventListener("request", function (e) {
    var q = JSON.parse(e.data);
    var tr = document.createElement("tr");
    cell(tr, String(q.seq + 1), "n");
    cell(tr, q.method);
    var code = document.createElement("code");
    code.textContent = q.path;
    cell(tr, "").appendChild(code);
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
