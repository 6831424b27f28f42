"""The dashboard in headless Chromium against a whole `distill up` stack: the key from the
URL fragment, live per-phase progress, a failed item retried by hand, Web Push from the
button to a notification, filters, paging, cancel, a file uploaded with progress and its
task's PDF report downloaded, an upload over the limit refused. Screenshots in
test-artifacts/browser/."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from selenium.webdriver.common.by import By

from tests.browser.conftest import UPLOAD_LIMIT, Dashboard, Pages, shoot, wait_until
from tests.browser.push import deliver_push, subscription_shim
from tests.fakes.push_service import PushService, unb64u

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ITEMS_JS = """
return [...document.querySelectorAll('#items > li.item')].map((li) => ({
  id: li.dataset.id,
  status: li.dataset.status,
  title: li.querySelector('.item-title').textContent,
  phases: Object.fromEntries([...li.querySelectorAll('.phase')].map((p) => [p.dataset.stage, p.dataset.status])),
  error: li.querySelector('.item-error').hidden ? null : li.querySelector('.error-text').textContent,
  export: (li.querySelector('.export-path') || li.querySelector('.export-link') || {}).textContent || null,
}));
"""
NOTIFICATIONS_JS = """
const done = arguments[arguments.length - 1];
navigator.serviceWorker.getRegistration()
  .then((r) => (r ? r.getNotifications() : []))
  .then((ns) => done(ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag }))))
  .catch((e) => done('error: ' + e));
"""
DONE = {"parse": "succeeded", "ai": "succeeded", "export": "succeeded"}


def api(dash: Dashboard, method: str, path: str, body: Any = None) -> Any:
    """The JSON API, as any client would call it."""
    req = urllib.request.Request(
        dash.origin + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {dash.stack.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.loads(r.read())


def items(driver: Any) -> list[dict[str, Any]]:
    return driver.execute_script(ITEMS_JS)


def text(driver: Any, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def notifications(driver: Any, within: float) -> list[dict[str, str]] | None:
    """The notifications the service worker shows, once there are some (None after `within` s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        shown = driver.execute_async_script(NOTIFICATIONS_JS)
        if shown:
            return shown
        time.sleep(0.1)
    return None


def open_signed_in(driver: Any, dash: Dashboard) -> None:
    driver.get(dash.url)
    wait_until(lambda: driver.find_element(By.ID, "app").is_displayed(), 15, "the dashboard to show")


def test_submit_three_links_watch_them_live_retry_one_and_get_notified(
    dashboard: Dashboard, pages: Pages, browser: Any
) -> None:
    d = browser
    vapid = api(dashboard, "GET", "/v1/vapidPublicKey")["public_key"]  # `distill up` made the pair
    push = PushService(vapid)
    try:
        sub = push.subscribe()
        d.execute_cdp_cmd("Browser.grantPermissions", {"origin": dashboard.origin, "permissions": ["notifications"]})
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": subscription_shim(sub)})

        # The key comes in the fragment, is kept, and leaves the address bar.
        open_signed_in(d, dashboard)
        assert "key=" not in d.current_url and dashboard.stack.api_key not in d.current_url
        assert d.execute_script("return localStorage.getItem('distill.apiKey')") == dashboard.stack.api_key
        d.execute_script("window.__sameDocument = true")  # gone if the page ever reloads

        # "Allow notifications": permission, service worker, a push subscription with our VAPID key, stored.
        d.find_element(By.ID, "notify").click()
        wait_until(
            lambda: d.find_element(By.ID, "notify").get_attribute("aria-pressed") == "true", 20, "notifications on"
        )
        worker = d.execute_async_script(
            "const done = arguments[0];"
            "navigator.serviceWorker.getRegistration().then((r) => done(r && r.active ? r.active.scriptURL : null));"
        )
        assert worker == f"{dashboard.origin}/sw.js"
        asked = d.execute_script("return window.__distillPushKeys")
        assert [base64.b64decode(k) for k in asked] == [unb64u(vapid)], "subscribed with the gateway's VAPID key"
        shoot(d, "1-notifications-on")

        # Three links in, three items out, each phase turning complete without a reload.
        urls = [pages.url("article.html"), pages.url("recipe.html"), pages.url("flaky.html")]
        d.find_element(By.ID, "urls").send_keys("\n".join(urls))
        d.find_element(By.ID, "submit-button").click()
        seen_phases: set[str] = set()

        def listed() -> list[dict[str, Any]]:
            now = items(d)
            seen_phases.update(s for i in now for s in i["phases"].values())
            return now

        wait_until(lambda: len(listed()) == 3, 20, "the three items")
        shoot(d, "2-submitted")

        def settled() -> list[dict[str, Any]] | None:
            now = listed()
            ok = now[0]["phases"] == DONE and now[1]["phases"] == DONE and now[2]["status"] == "failed"
            return now if ok and now[0]["export"] and now[1]["export"] else None

        done = wait_until(settled, 120, "two items done and the flaky one failed")
        assert [i["status"] for i in done] == ["succeeded", "succeeded", "failed"]
        assert done[0]["title"] and done[0]["title"] != urls[0], "the page's title replaces the link"
        assert done[2]["phases"] == {"parse": "failed", "ai": "skipped", "export": "skipped"}
        assert "500" in done[2]["error"] or "UPSTREAM" in done[2]["error"], done[2]["error"]
        for item in done[:2]:
            assert item["export"].endswith(".md") and Path(item["export"]).is_file(), item["export"]
        assert "pending" in seen_phases or "running" in seen_phases, "progress was seen before completion"
        assert d.execute_script("return window.__sameDocument") is True, "no reload"
        assert d.find_element(By.ID, "detail-status").text.lower() == "partially failed"
        shoot(d, "3-one-failed")

        # The notifier pushed to the subscription the page registered.
        task_id = d.execute_script("return location.hash").split("task=")[1]

        def pushed() -> Counter[str]:
            kinds = Counter(m["type"] for m in push.messages(sub) if m.get("task_id") == task_id)
            return kinds if kinds["task.finished"] >= 1 else Counter()

        kinds = wait_until(pushed, 60, "the pushes of the task")
        assert kinds["item.succeeded"] == 2 and kinds["item.failed"] == 1, kinds
        assert not push.rejected, push.rejected
        # ... and the service worker shows what a push carries.
        failed_push = next(m for m in push.messages(sub) if m["type"] == "item.failed")
        shown = deliver_push(d, dashboard.origin, failed_push, lambda: notifications(d, within=5))
        assert shown[0]["title"].startswith("Failed:") and shown[0]["tag"] == f"task-{task_id}", shown

        # The page comes back: retry the failed item from its button.
        pages.fix()
        failed = d.find_element(By.CSS_SELECTOR, f'#items li[data-id="{done[2]["id"]}"] .retry')
        assert failed.is_displayed()
        failed.click()

        def retried() -> list[dict[str, Any]] | None:
            now = items(d)
            return now if now[2]["phases"] == DONE and now[2]["export"] else None

        after = wait_until(retried, 120, "the retried item to finish")
        assert after[2]["status"] == "succeeded" and after[2]["error"] is None
        wait_until(lambda: d.find_element(By.ID, "detail-status").text.lower() == "succeeded", 30, "task succeeded")
        assert d.find_element(By.ID, "retry-all").is_displayed() is False
        assert d.execute_script("return window.__sameDocument") is True, "no reload"
        assert pages.flaky_hits == 2
        shoot(d, "4-retried")
    finally:
        push.close()


def test_status_filters_pages_and_cancel(dashboard: Dashboard, pages: Pages, browser: Any) -> None:
    d = browser
    for n in range(21):  # pages that do not exist: each task fails at once
        api(dashboard, "POST", "/v1/tasks", {"urls": [pages.url(f"gone-{n}.html")], "labels": {"batch": "gone"}})

    def all_failed() -> int:
        return api(dashboard, "GET", "/v1/tasks?label=batch%3Dgone&status=failed")["total_size"] == 21

    wait_until(all_failed, 90, "21 failed tasks")
    open_signed_in(d, dashboard)

    def rows() -> list[str]:  # read at once: the list is redrawn as events arrive
        return d.execute_script("return [...document.querySelectorAll('#tasks > li')].map((li) => li.dataset.status)")

    d.find_element(By.CSS_SELECTOR, '#filters button[data-filter="failed"]').click()
    first = wait_until(lambda: len(rows()) == 20 and rows(), 15, "a full first page of failed tasks")
    assert set(first) == {"failed"}
    failed_total = api(dashboard, "GET", "/v1/tasks?status=failed")["total_size"]
    assert failed_total >= 21 and text(d, "total") == f"({failed_total})"
    assert d.find_element(By.CSS_SELECTOR, '#filters button[data-filter="failed"]').get_attribute("aria-pressed") == (
        "true"
    )
    d.find_element(By.ID, "older").click()
    wait_until(lambda: len(rows()) == failed_total - 20, 15, "the second page")
    assert d.find_element(By.ID, "older").get_attribute("disabled") and text(d, "page") == "page 2"
    shoot(d, "5-failed-page-2")
    d.find_element(By.ID, "newer").click()
    wait_until(lambda: len(rows()) == 20, 15, "the first page again")
    d.find_element(By.CSS_SELECTOR, '#filters button[data-filter="succeeded"]').click()
    succeeded = api(dashboard, "GET", "/v1/tasks?status=succeeded")["total_size"]
    wait_until(lambda: text(d, "total") == f"({succeeded})" and set(rows()) <= {"succeeded"}, 15, "succeeded tasks")

    # A task whose page hangs: its parse phase runs until the task is cancelled.
    d.find_element(By.CSS_SELECTOR, '#filters button[data-filter=""]').click()
    d.find_element(By.ID, "urls").send_keys(pages.url("slow.html"))
    d.find_element(By.ID, "submit-button").click()
    wait_until(lambda: [i["phases"]["parse"] for i in items(d)] == ["running"], 30, "parse running")
    shoot(d, "6-running")
    d.find_element(By.ID, "cancel").click()
    wait_until(lambda: d.find_element(By.ID, "detail-status").text.lower() == "cancelled", 30, "task cancelled")
    wait_until(lambda: [i["status"] for i in items(d)] == ["cancelled"], 30, "item cancelled")
    assert not d.find_element(By.ID, "cancel").is_displayed()
    pages.release.set()
    shoot(d, "7-cancelled")


def test_a_key_typed_in_once_is_kept_and_a_wrong_one_is_refused(dashboard: Dashboard, browser: Any) -> None:
    d = browser
    d.execute_cdp_cmd("Browser.grantPermissions", {"origin": dashboard.origin, "permissions": ["notifications"]})
    d.get(dashboard.origin + "/")
    wait_until(lambda: d.find_element(By.ID, "keybox").is_displayed(), 15, "the key form")
    # Every control has a name a screen reader can say.
    unnamed = d.execute_script(
        "return [...document.querySelectorAll('button, input, textarea, select')].filter((e) =>"
        " !(e.labels && e.labels.length) && !(e.getAttribute('aria-label') || e.textContent.trim()))"
        ".map((e) => e.outerHTML)"
    )
    assert unnamed == []
    d.find_element(By.ID, "key").send_keys("not-the-key")
    d.find_element(By.CSS_SELECTOR, "#keyform button").click()
    wait_until(lambda: "API key" in text(d, "status") and d.find_element(By.ID, "keybox").is_displayed(), 15, "refusal")
    assert d.find_element(By.CSS_SELECTOR, "#status [role=alert]")
    shoot(d, "8-wrong-key")
    d.find_element(By.ID, "key").send_keys(dashboard.stack.api_key)
    d.find_element(By.CSS_SELECTOR, "#keyform button").click()
    wait_until(lambda: d.find_element(By.ID, "app").is_displayed(), 15, "the dashboard")
    wait_until(lambda: text(d, "total").startswith("("), 15, "the task list")
    d.refresh()  # kept in the browser
    wait_until(lambda: d.find_element(By.ID, "app").is_displayed(), 15, "the dashboard after a reload")
    # Chromium's own push service (no stand-in here) cannot be reached from a test machine: said plainly.
    d.find_element(By.ID, "notify").click()
    wait_until(lambda: "could not subscribe" in text(d, "status"), 30, "the push service's failure")
    assert "push service" in text(d, "status") and d.find_element(By.CSS_SELECTOR, "#status [role=alert]")
    assert d.find_element(By.ID, "notify").get_attribute("aria-pressed") == "false"
    d.find_element(By.ID, "signout").click()
    wait_until(lambda: d.find_element(By.ID, "keybox").is_displayed(), 15, "the key form again")
    assert d.execute_script("return localStorage.getItem('distill.apiKey')") is None


# Every text the upload's status line shows, in order (set before the upload starts).
RECORD_UPLOAD_STATUS = """
window.__uploadSaid = [];
new MutationObserver(() => window.__uploadSaid.push(document.getElementById('upload-status').textContent))
  .observe(document.getElementById('upload-status'), { childList: true, characterData: true, subtree: true });
"""

# What a drop of a file from the desktop dispatches (selenium cannot drag files in).
DROP_FILE = """
const dt = new DataTransfer();
dt.items.add(new File(['a note'], arguments[0], { type: 'text/plain' }));
const zone = document.getElementById('dropzone');
for (const type of ['dragover', 'drop']) {
  zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
}
"""


def test_upload_a_file_watch_it_finish_and_download_its_pdf_report(
    dashboard: Dashboard, browser: Any, tmp_path: Path
) -> None:
    d = browser
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    notes = tmp_path / "harbour-notes.md"
    notes.write_text(
        "# Harbour walk notes\n\nThe tide came in at six and the fishing boats followed it into the harbour. "
        "Gulls circled the market while the nets were mended on the quay.\n"
    )
    open_signed_in(d, dashboard)
    tasks_before = api(dashboard, "GET", "/v1/tasks")["total_size"]

    # A file chosen with the file picker (the keyboard's way; the drop zone adds to the same list).
    d.find_element(By.ID, "files").send_keys(str(notes))
    chosen = wait_until(lambda: d.find_element(By.ID, "chosen").text, 10, "the chosen file listed")
    assert "harbour-notes.md" in chosen and "bytes" in chosen
    shoot(d, "9-file-chosen")
    d.execute_script(RECORD_UPLOAD_STATUS)
    d.find_element(By.ID, "submit-button").click()
    wait_until(lambda: text(d, "upload-status") == "Uploaded 1 file.", 30, "the upload to finish")
    said = d.execute_script("return window.__uploadSaid")
    assert any(s.startswith("Uploading 1 file: ") and s.endswith("(100 %)") for s in said), said
    assert not d.find_element(By.ID, "chosen").is_displayed(), "the list is cleared once uploaded"

    # The file is the new task's item, and goes through every phase live.
    def finished() -> list[dict[str, Any]] | None:
        now = items(d)
        return now if len(now) == 1 and now[0]["phases"] == DONE and now[0]["export"] else None

    done = wait_until(finished, 120, "the uploaded file's item done")[0]
    assert done["title"] == "Harbour walk notes", "the file's first heading is its title"
    assert api(dashboard, "GET", "/v1/tasks")["total_size"] == tasks_before + 1
    task_id = d.execute_script("return location.hash").split("task=")[1]
    item = api(dashboard, "GET", f"/v1/items/{done['id']}")
    assert item["task_id"] == task_id and item["input_kind"] == "INPUT_KIND_FILE"
    assert item["input"].endswith("/harbour-notes.md")
    shoot(d, "10-uploaded-file-done")

    # Download report (PDF): the status is said while it is made, then the file is saved.
    assert d.find_element(By.ID, "report-format").get_attribute("value") == "REPORT_FORMAT_PDF"
    d.find_element(By.ID, "report-button").click()
    states: set[str] = set()

    def downloaded() -> bool:
        states.add(d.find_element(By.ID, "report-status").get_attribute("data-state"))
        return "downloaded" in states

    wait_until(downloaded, 60, "the report to be made and downloaded", interval=0.05)
    name = f"distill-report-{task_id.replace('-', '')[:8]}.pdf"
    assert text(d, "report-status").startswith(f"Downloaded {name} (")
    assert states & {"asking", "queued", "running", "downloading"}, f"no status was shown before the end: {states}"
    saved = downloads / name
    wait_until(lambda: saved.is_file() and not list(downloads.glob("*.crdownload")), 15, f"{name} in the downloads")
    pdf = PdfReader(io.BytesIO(saved.read_bytes()))
    assert "Harbour walk notes" in "\n".join(p.extract_text() for p in pdf.pages)
    shoot(d, "11-report-downloaded")

    # Files dropped on the zone join the list; each can be removed again.
    d.execute_script(DROP_FILE, "dropped note.txt")
    wait_until(lambda: "dropped note.txt" in d.find_element(By.ID, "chosen").text, 10, "the dropped file listed")
    assert text(d, "upload-status") == "1 file ready to upload."
    d.find_element(By.CSS_SELECTOR, '#chosen button[aria-label="Remove dropped note.txt"]').click()
    assert not d.find_element(By.ID, "chosen").is_displayed()

    # A file over DISTILL_UPLOAD_MAX_FILE_BYTES: refused with the server's reason, no task made.
    big = tmp_path / "big-scan.txt"
    big.write_bytes(b"word " * (UPLOAD_LIMIT // 5 + 20_000))
    d.find_element(By.ID, "files").send_keys(str(big))
    d.find_element(By.ID, "submit-button").click()
    wait_until(lambda: text(d, "upload-status").startswith("Not uploaded:"), 30, "the refusal")
    refusal = text(d, "upload-status")
    assert "'big-scan.txt' is larger than 2000000 bytes" in refusal and "DISTILL_UPLOAD_MAX_FILE_BYTES" in refusal
    assert "error" in d.find_element(By.ID, "upload-status").get_attribute("class")
    assert "big-scan.txt" in d.find_element(By.ID, "chosen").text, "the file stays chosen, to try again"
    assert api(dashboard, "GET", "/v1/tasks")["total_size"] == tasks_before + 1, "a refused upload makes no task"
    shoot(d, "12-upload-refused")
