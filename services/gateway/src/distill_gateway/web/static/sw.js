// Distill's service worker: push notifications, and the dashboard's files for offline starts.
// The API (/v1/...) is never cached or intercepted: tasks are always read live.
"use strict";

const CACHE = "distill-shell-v1";
const SHELL = ["/", "/static/app.css", "/static/app.js", "/static/icon.svg", "/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((c) => c.addAll(SHELL)).catch(() => {}).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Network first (a new gateway version shows at once), the cached shell when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/v1/")) {
    return;
  }
  event.respondWith(
    fetch(event.request)
      .then((res) => {
        if (res.ok && SHELL.includes(url.pathname)) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(event.request, copy));
        }
        return res;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || Response.error())),
  );
});

/** What a push message (docs/notifications.md) says, as a notification. */
function describe(n) {
  const what = n.title || n.input || "A link";
  const c = n.counts || {};
  switch (n.type) {
    case "item.succeeded":
      return { title: `Done: ${what}`, body: n.url ? "Exported." : "Processed." };
    case "item.failed":
      return { title: `Failed: ${what}`, body: n.error ? `${n.error.code}: ${n.error.message}` : "It failed." };
    case "task.finished":
      return {
        title: "Distill: task finished",
        body: `${c.succeeded || 0} of ${c.total || 0} done` + (c.failed ? `, ${c.failed} failed` : "") +
          (c.cancelled ? `, ${c.cancelled} cancelled` : ""),
      };
    default:
      return { title: "Distill", body: `${n.type || "update"}: ${what}` };
  }
}

self.addEventListener("push", (event) => {
  let n = {};
  try {
    n = event.data ? event.data.json() : {};
  } catch {
    n = { type: "update" };
  }
  const { title, body } = describe(n);
  const target = n.task_id ? `/#task=${encodeURIComponent(n.task_id)}` : "/";
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      tag: n.task_id ? `task-${n.task_id}` : undefined, // one notification per task, the latest news
      icon: "/static/icon-192.png",
      badge: "/static/icon-192.png",
      data: { url: target, type: n.type, id: n.id },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) return open.navigate(url).then((w) => (w || open).focus());
      return self.clients.openWindow(url);
    }),
  );
});
