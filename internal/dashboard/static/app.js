// sre-agent dashboard: the pages work without this script. With it, an
// open page follows the archive (Server-Sent Events on /live) and shows
// each time in the reader's own time zone beside UTC. It sends nothing but
// GET requests to the page's own origin, and inserts no script.
"use strict";
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var s = document.createElement("span");
      s.className = "local";
      s.textContent = " (" + d.toLocaleString() + " local)";
      el.after(s);
      el.dataset.local = "1";
    });
  }

  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), old = document.querySelector("main");
        if (!fresh || !old) return;
        var focused = document.activeElement && document.activeElement.id;
        old.replaceWith(document.adoptNode(fresh));
        document.body.dataset.gen = fresh.dataset.gen || document.body.dataset.gen;
        localTimes(fresh);
        setState("live");
        if (focused) { var f = document.getElementById(focused); if (f) f.focus(); }
      })
      .catch(function () { setState("reconnecting…"); })
      .finally(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  function setState(s) {
    var el = document.getElementById("livestate");
    if (el) el.textContent = s === "live" ? "live: new events appear here" : s;
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    if (!window.EventSource) return;
    var es = new EventSource("/live?since=" + encodeURIComponent(document.body.dataset.gen || ""));
    es.addEventListener("open", function () { setState("live"); });
    es.addEventListener("change", refresh);
    es.addEventListener("error", function () { setState("reconnecting…"); });
  });
})();
