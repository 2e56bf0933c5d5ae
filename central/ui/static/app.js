// Tether UI: keep pages live and send the ACL token. Plain JavaScript.
(function () {
  "use strict";
  var TOKEN_KEY = "tether.token";

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function headers() {
    var h = {};
    var t = token();
    if (t) { h["X-Tether-Token"] = t; }
    return h;
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // live asks for the page's <main> again with a blocking query: the server
  // answers when a table the page shows changes, or after a short wait.
  async function live() {
    var main = document.querySelector("main[data-index]");
    var badge = document.getElementById("live");
    if (!main) { if (badge) { badge.hidden = true; } return; }
    for (;;) {
      var idx = main.getAttribute("data-index");
      var url = location.pathname + "?fragment=1&index=" + encodeURIComponent(idx) +
        (location.search ? "&" + location.search.slice(1) : "");
      try {
        var resp = await fetch(url, { headers: headers(), cache: "no-store" });
        if (!resp.ok) { badge.className = "live off"; await sleep(5000); continue; }
        var html = await resp.text();
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var next = tpl.content.querySelector("main");
        // Not under an operator's hand: a confirmation asked, a request sent.
        while (next && document.querySelector("form.action.confirming, form.action.busy")) { await sleep(500); }
        if (next) { main.replaceWith(next); main = next; }
        badge.className = "live";
        if (next && next.getAttribute("data-index") === idx) { await sleep(1000); }
        // Pages over the whole fleet refresh at most this often (ms), however
        // often nodes change.
        var gap = +(main.getAttribute("data-min-refresh") || 0);
        if (gap > 0) { await sleep(gap); }
      } catch (e) {
        badge.className = "live off";
        await sleep(5000);
      }
    }
  }

  function tokenPage() {
    var form = document.getElementById("token-form");
    if (!form) { return; }
    var input = document.getElementById("token-secret");
    var status = document.getElementById("token-status");
    function show() { status.textContent = token() ? "A token is set for this session." : "No token set."; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var secret = input.value.trim();
      try { sessionStorage.setItem(TOKEN_KEY, secret); } catch (e) {}
      // Page navigations carry no header: a session cookie scoped to the UI
      // lets central check the token on page loads too.
      document.cookie = "tether_token=" + encodeURIComponent(secret) + "; path=/ui; SameSite=Strict";
      input.value = "";
      show();
    });
    document.getElementById("token-clear").addEventListener("click", function () {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) {}
      document.cookie = "tether_token=; path=/ui; SameSite=Strict; max-age=0";
      show();
    });
    show();
  }

  // logs streams a task's log into the log page's <pre> from the API (the
  // token goes as a header: the UI's cookie is not sent to /v1/). In
  // follow mode the response stays open and lines are added as the task
  // writes them; the page keeps the last LOG_KEEP characters.
  var LOG_KEEP = 256 * 1024;
  async function logs() {
    var pre = document.getElementById("log");
    if (!pre) { return; }
    var status = document.getElementById("log-status");
    var follow = pre.getAttribute("data-follow") === "true";
    function append(text) {
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(text));
      if (pre.textContent.length > LOG_KEEP) { pre.textContent = pre.textContent.slice(-LOG_KEEP / 2); }
      if (atEnd) { pre.scrollTop = pre.scrollHeight; }
    }
    try {
      var resp = await fetch(pre.getAttribute("data-src"), { headers: headers(), cache: "no-store" });
      if (!resp.ok) {
        status.className = "bad";
        status.textContent = "Logs unavailable (HTTP " + resp.status + "): " + (await resp.text());
        return;
      }
      status.textContent = follow ? "Following: new lines appear as the task writes them." : "The last 200 lines:";
      var reader = resp.body.getReader();
      var dec = new TextDecoder();
      for (;;) {
        var r = await reader.read();
        if (r.done) { break; }
        append(dec.decode(r.value, { stream: true }));
      }
      append(dec.decode());
      if (follow) { status.textContent = "The stream ended (the task stopped or central closed it): reload to follow again."; }
    } catch (e) {
      status.className = "bad";
      status.textContent = "The log stream failed: " + e + ". Reload to try again.";
    }
  }

  // actions: a form.action's button calls the API (data-method, data-url,
  // data-body as JSON) with the tab's token; the API checks the token and
  // refuses what it may not do. With data-confirm the first click asks,
  // the second sends. The buttons are type="button": without this script
  // they do nothing. The outcome shows in #action-status, outside <main>,
  // so that the live refresh the change causes keeps it.
  function actions() {
    var status = document.getElementById("action-status");
    function say(text, bad) {
      if (!status) { return; }
      status.textContent = text;
      status.className = "action-status" + (bad ? " bad" : "");
      status.hidden = false;
    }
    function reset(form) {
      form.classList.remove("confirming");
      var c = form.querySelector(".confirm");
      if (c) { c.hidden = true; }
      form.querySelector("button.do").hidden = false;
    }
    async function send(form) {
      form.classList.add("busy");
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      var h = headers();
      var init = { method: form.getAttribute("data-method"), headers: h, cache: "no-store" };
      var body = form.getAttribute("data-body");
      if (body) { h["Content-Type"] = "application/json"; init.body = body; }
      try {
        var resp = await fetch(form.getAttribute("data-url"), init);
        var text = await resp.text();
        if (resp.ok) {
          say(form.getAttribute("data-done"), false);
        } else {
          var msg = text;
          try { msg = JSON.parse(text).error || text; } catch (e) {}
          say("Refused (HTTP " + resp.status + "): " + msg, true);
        }
      } catch (e) {
        say("The request failed: " + e, true);
      }
      form.classList.remove("busy");
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      reset(form);
    }
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest("form.action button") : null;
      if (!b) { return; }
      var form = b.form;
      ev.preventDefault();
      if (form.classList.contains("busy")) { return; }
      if (b.classList.contains("cancel")) { reset(form); return; }
      if (b.classList.contains("do") && form.getAttribute("data-confirm")) {
        form.classList.add("confirming");
        b.hidden = true;
        form.querySelector(".confirm").hidden = false;
        return;
      }
      send(form);
    });
    document.documentElement.setAttribute("data-actions", "ready");
  }

  document.addEventListener("DOMContentLoaded", function () { tokenPage(); actions(); live(); logs(); });
})();
