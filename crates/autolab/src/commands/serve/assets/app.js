// The dashboard's only script: live updates over Server-Sent Events (the page's <main> is
// fetched again and swapped in, never reloaded) and the control forms (POST /control).
(function () {
  "use strict";
  const tag = document.body.dataset.tag;
  const conn = document.getElementById("conn");
  let timer = null;

  function refresh() {
    if (timer) return;
    timer = setTimeout(async function () {
      timer = null;
      try {
        const r = await fetch(location.href, { headers: { "X-Autolab-Refresh": "1" } });
        if (!r.ok) return;
        const doc = new DOMParser().parseFromString(await r.text(), "text/html");
        const fresh = doc.getElementById("live");
        const main = document.getElementById("live");
        if (!fresh || !main) return;
        // What the user is typing survives the swap.
        const typing = document.getElementById("steer-text");
        const typed = typing ? typing.value : "";
        const focused = document.activeElement && document.activeElement.id;
        const answer = document.getElementById("control-answer");
        const said = answer ? answer.textContent : "";
        main.innerHTML = fresh.innerHTML;
        const again = document.getElementById("steer-text");
        if (again) again.value = typed;
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        const answerAgain = document.getElementById("control-answer");
        if (answerAgain) answerAgain.textContent = said;
        document.body.dataset.refreshed = String(Date.now());
        bind();
      } catch (e) {
        /* the next event tries again */
      }
    }, 150);
  }

  function connect() {
    const es = new EventSource("/events");
    es.addEventListener("ledger", function (ev) {
      try {
        const d = JSON.parse(ev.data);
        if (!tag || d.tag === tag) refresh();
      } catch (e) {
        refresh();
      }
    });
    es.addEventListener("pulse", refresh);
    es.onopen = function () {
      if (conn) conn.classList.add("on");
    };
    es.onerror = function () {
      if (conn) conn.classList.remove("on");
    };
  }

  function bind() {
    document.querySelectorAll("form.control").forEach(function (f) {
      if (f.dataset.bound) return;
      f.dataset.bound = "1";
      f.addEventListener("submit", async function (ev) {
        ev.preventDefault();
        const data = new FormData(f);
        if (ev.submitter && ev.submitter.name) data.set(ev.submitter.name, ev.submitter.value);
        const answer = document.getElementById("control-answer");
        try {
          const r = await fetch("/control", { method: "POST", body: new URLSearchParams(data) });
          const text = await r.text();
          if (answer) answer.textContent = text;
          if (r.ok) {
            const box = f.querySelector("#steer-text");
            if (box) box.value = "";
          }
        } catch (e) {
          if (answer) answer.textContent = "not sent: " + e;
        }
        refresh();
      });
    });
    const sw = document.getElementById("tag-switch");
    if (sw && !sw.dataset.bound) {
      sw.dataset.bound = "1";
      sw.addEventListener("change", function () {
        sw.form.submit();
      });
    }
  }

  bind();
  connect();
  // Heartbeats and elapsed times move without events.
  setInterval(refresh, 5000);
})();
