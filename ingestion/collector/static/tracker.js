/*
 * journey webview tracker: dependency-free, 8 KB with its comments.
 *
 *   <script src="https://collector.example/tracker.js" data-endpoint="https://collector.example/v1/webview/events"></script>
 *   var f = journey.funnel("change_address");
 *   f.step(1, "enter_postcode"); f.step(2, "confirm_address"); f.complete();   // or f.escalate()
 *
 * It reads the link token from the page URL (?jt=...) and exchanges it at once
 * for a page token (POST /v1/webview/session), which it renews at two thirds
 * of its lifetime, when the page is shown again past that point, and once on a
 * 401 before sending the refused batch again: a visit longer than the link
 * token's lifetime is recorded whole (docs/contract.md §5.2). The page token
 * is kept in sessionStorage, so a reload of the same link goes on with it.
 * Events stay queued until the collector acknowledges them: a failed batch, or
 * one refused for its token, is kept with the same event_ids (the warehouse
 * keeps each id once) and retried with backoff. webview.exited leaves with
 * navigator.sendBeacon when the page is hidden or closed. Bodies are
 * text/plain so the browser sends no CORS preflight.
 */
(function (global) {
  "use strict";
  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) ||
    (script ? new URL("/v1/webview/events", script.src).href : "/v1/webview/events");
  var sessionEndpoint = (script && script.getAttribute("data-session-endpoint")) ||
    endpoint.replace(/\/events$/, "/session");
  var SAVED = "journey_page_token";
  var link = new URLSearchParams(global.location.search).get("jt");
  var token = savedToken() || link;
  var renewing = null;    // the renewal in flight (a Promise resolving to whether it got a token)
  var renewAt = 0;        // Date.now() from which the token is due for renewal
  var renewTimer = null;
  var renewBackoffMs = 1000;
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

  function savedToken() {   // the page token of an earlier load of this same link
    try {
      var saved = JSON.parse(global.sessionStorage.getItem(SAVED) || "null");
      return saved && link && saved.link === link ? saved.token : null;
    } catch (e) { return null; }
  }

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0; return (c === "x" ? r : (r & 3 | 8)).toString(16);
    });
  }

  function post(url, payload) {
    return global.fetch(url, { method: "POST", body: payload, keepalive: true,
                               headers: { "Content-Type": "text/plain" } });
  }

  function renewIn(ms) {
    renewAt = Date.now() + ms;
    global.clearTimeout(renewTimer);
    renewTimer = global.setTimeout(renew, ms);
  }

  function renew() {        // one renewal at a time; every caller waits for the same one
    if (!renewing) renewing = exchange(token).then(function (ok) { renewing = null; return ok; });
    return renewing;
  }

  function exchange(sent) {
    return post(sessionEndpoint, JSON.stringify({ token: sent })).then(function (response) {
      if (response.ok) return response.json().then(adopt);
      if (response.status >= 500 || response.status === 429) throw new Error("retry " + response.status);
      if (response.status === 401 && link && sent !== link) return exchange(link); // a saved token that died
      global.console.warn("journey: token renewal refused with", response.status);
      return false;
    }).catch(function () {  // unreachable or busy: try again soon, the token may still live
      renewBackoffMs = Math.min(renewBackoffMs * 2, 30000);
      renewIn(renewBackoffMs);
      return false;
    });
  }

  function adopt(session) {
    token = session.token;
    renewBackoffMs = 1000;
    // Relative, so right whatever this device's clock says; at least a second apart near the lifetime cap.
    renewIn(Math.max(session.expires_in * 1000 * 2 / 3, 1000));
    try { global.sessionStorage.setItem(SAVED, JSON.stringify({ link: link, token: token })); } catch (e) { /* private mode */ }
    return true;
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
    if (renewing) { renewing.then(flush); return; }  // send with the token being fetched
    send(queue.splice(0, 50), true);
  }

  function send(batch, mayRenew) {
    post(endpoint, body(batch))
      .then(function (response) {
        if (response.status === 401 && mayRenew) return renew().then(function () { send(batch, false); });
        if (response.status === 401) global.console.warn("journey: batch refused with 401, kept to retry");
        if (response.status >= 500 || response.status === 429 || response.status === 401) {
          throw new Error("retry " + response.status);
        }
        // Refused for what it holds (400, 403, 413, 422): sending it again cannot help; the collector counts it.
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
    if (!sent) post(endpoint, payload);
    current = null;
  }

  global.addEventListener("pagehide", function () { beaconExit("closed"); });
  global.document.addEventListener("visibilitychange", function () {
    if (global.document.visibilityState === "hidden") beaconExit("hidden");
    else if (renewAt && Date.now() >= renewAt) renew();  // timers of hidden pages are throttled
  });
  if (token) renew();  // at once: the link may have waited in the chat for most of its lifetime

  global.journey = {
    linked: !!link,
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
