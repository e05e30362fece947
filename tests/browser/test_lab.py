"""A real browser: JupyterLab on 127.0.0.1, the quickstart opened in headless Chromium
(Debian's build driven by Playwright), run top to bottom; the dashboard widget's status and
step count are read back from the page and a screenshot is saved under ``artifacts/``.

Needs ``scripts/install-browser-test.sh`` (run by ``make test``).  Without chromium, playwright
or jupyterlab the test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {why}")
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server serving a copy of the quickstart (Lab may save what it runs)."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _need(False, "jupyterlab is not installed (scripts/install-browser-test.sh)")
    _need(Path(CHROMIUM).exists(), "chromium is not installed (scripts/install-browser-test.sh)")
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", work / "quickstart.ipynb")
    port = _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "IPYTHONDIR": str(tmp_path / "ipython")}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}",
         "--no-browser", "--allow-root", "--ServerApp.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.disable_check_xsrf=True"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()
                            [-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()  # its kernels end with it
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_quickstart_dashboard_in_jupyterlab(lab):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed (scripts/install-browser-test.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(f"{lab}/lab/tree/quickstart.ipynb")
            page.wait_for_function(
                "window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
                "?.status === 'idle'")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # the last cell stops the pipeline: the dashboard shown in cell 3 (at step 1,
            # Running) must follow the pipeline's events all the way to Stopped
            status = page.locator(".fnb-dashboard .fnb-status").first
            page.wait_for_selector('.fnb-dashboard .fnb-status[data-status="Stopped"]')
            page.wait_for_function(
                "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                " === 'idle'")
            board = page.locator(".fnb-dashboard").first
            board.scroll_into_view_if_needed()
            text = status.text_content()
            summary = board.text_content() or ""
            page.screenshot(path=str(ARTIFACTS / "quickstart-dashboard.png"))
            board.screenshot(path=str(ARTIFACTS / "quickstart-dashboard-widget.png"))
            # Lab renders image/svg+xml output as an <img> (or inline <svg> when trusted)
            svg = (page.locator(".jp-RenderedSVG img, .jp-RenderedSVG svg").count()
                   + page.locator('img[src^="data:image/svg+xml"]').count())
        finally:
            browser.close()
    assert text == "Stopped"
    steps = re.search(r"steps\s*(\d+)", summary)
    assert steps is not None, summary
    assert int(steps.group(1)) > 1, summary
    # displayed at step 1 with no records: what the page shows came through live updates
    assert re.search(r"records\s*5 in", summary), summary
    assert "shop" in summary
    assert svg >= 1  # explain's picture rendered
    assert (ARTIFACTS / "quickstart-dashboard.png").stat().st_size > 10_000
