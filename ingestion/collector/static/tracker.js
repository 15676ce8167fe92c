/*
 * journey webview tracker: dependency-free, ~2 KB.
 *
 *   <script src="https://collector.example/tracker.js" data-endpoint="https://collector.example/v1/webview/events"></script>
 *   var f = journey.funnel("change_address");
 *   f.step(1, "enter_postcode"); f.step(2, "confirm_address"); f.complete();   // or f.escalate()
 *
 * It reads the handshake token from the page URL (?jt=...), keeps it for the
 * page's life, batches events, retries a failed batch with the same event_id
 * (the warehouse keeps each id once), and sends webview.exited with
 * navigator.sendBeacon when the page is hidden or closed. Bodies are
 * text/plain so the browser sends no CORS preflight.
 */
(function (global) {
  "use strict";
  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) ||
    (script ? new URL("/v1/webview/events", script.src).href : "/v1/webview/events");
  var token = new URLSearchParams(global.location.search).get("jt");
  var anonymousId = storedAnonymousId();
  var queue = [];
  var timer = null;
  var backoffMs = 500;
  var current = null; // {funnel, step, step_index} for webview.exited

  function storedAnonymousId() {
    try {
      var id = global.localStorage.getItem("journey_anonymous_id");
      if (!id) { id = "anon-" + uuid(); global.localStorage.setItem("journey_anonymous_id", id); }
      return id;
    } catch (e) { return "anon-" + uuid(); }
  }

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0; return (c === "x" ? r : (r & 3 | 8)).toString(16);
    });
  }

  function track(type, properties) {
    queue.push({ event_id: uuid(), type: type, occurred_at: new Date().toISOString(),
                 sent_at: null, identity: { anonymous_id: anonymousId }, properties: properties });
    if (!timer) timer = global.setTimeout(flush, 200);
  }

  function body(batch) {
    var now = new Date().toISOString();
    batch.forEach(function (e) { e.sent_at = now; });
    return JSON.stringify({ token: token, events: batch });
  }

  function flush() {
    timer = null;
    if (!queue.length) return;
    var batch = queue.splice(0, 50);
    global.fetch(endpoint, { method: "POST", body: body(batch), keepalive: true,
                             headers: { "Content-Type": "text/plain" } })
      .then(function (response) {
        if (response.status >= 500 || response.status === 429) throw new Error("retry " + response.status);
        if (!response.ok) global.console.warn("journey: batch refused with", response.status);
        backoffMs = 500;
        if (queue.length) flush();
      })
      .catch(function () {           // keep the same event_ids and try again later
        queue = batch.concat(queue);
        backoffMs = Math.min(backoffMs * 2, 30000);
        if (!timer) timer = global.setTimeout(flush, backoffMs);
      });
  }

  function beaconExit(reason) {
    if (!current) return;
    track("webview.exited", { funnel: current.funnel, step: current.step,
                              step_index: current.step_index, reason: reason });
    var payload = body(queue.splice(0, queue.length));
    var sent = global.navigator.sendBeacon &&
      global.navigator.sendBeacon(endpoint, new Blob([payload], { type: "text/plain" }));
    if (!sent) global.fetch(endpoint, { method: "POST", body: payload, keepalive: true,
                                        headers: { "Content-Type": "text/plain" } });
    current = null;
  }

  global.addEventListener("pagehide", function () { beaconExit("closed"); });
  global.document.addEventListener("visibilitychange", function () {
    if (global.document.visibilityState === "hidden") beaconExit("hidden");
  });

  global.journey = {
    linked: !!token,
    flush: flush,
    funnel: function (name) {
      track("webview.opened", { funnel: name });
      current = { funnel: name, step: null, step_index: 0 };
      return {
        step: function (index, step) {
          current = { funnel: name, step: step, step_index: index };
          track("funnel.step_viewed", { funnel: name, step: step, step_index: index });
        },
        complete: function () { track("funnel.completed", { funnel: name }); flush(); },
        escalate: function () {
          track("escalation.requested", { funnel: name, step: current.step, step_index: current.step_index });
          flush();
        }
      };
    }
  };
})(window);
