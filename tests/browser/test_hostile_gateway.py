"""A hostile gateway's answers, rendered in JupyterLab: nothing executes, no file escapes.

The gateway here is a small server of this test's own (the emulator is well-behaved): its job
ids carry ``../`` and markup, its video links carry quotes and angle brackets, or use the
``javascript:`` scheme. The kernel talks to it as to any relay (``SORA_BASE_URL``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from sora_nb.emulator.render import render_video
from tests.browser.conftest import cell, cell_state, run_cell, wait_cell_done, write_notebook

pytestmark = pytest.mark.timeout(150)

EVIL_ID = '../../../evil"><img src=x onerror="window.__pwned=1">'
QUOTED_LINK = '/v.mp4?x="><img src=x onerror="window.__pwned=2"><script>window.__pwned=3</script>'
SCENARIOS = {  # prompt -> (job id, video link; "{base}" is this server)
    "ids": (EVIL_ID, "{base}/v.mp4"),
    "quotes": ("task_quotes", "{base}" + QUOTED_LINK),
    "scheme": ("task_scheme", "javascript:window.__pwned=4"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    media = render_video(
        "hostile",
        seed=1,
        width=180,
        height=320,
        seconds=2,
        out_dir=tmp_path_factory.mktemp("media"),
        stem="v",
    )
    mp4 = media.mp4.read_bytes()
    jobs: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            job_id, _ = SCENARIOS[body["prompt"]]
            jobs[job_id] = body["prompt"]
            self._json({"id": job_id, "status": "pending"})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/v1/video/query":
                job_id = parse_qs(url.query)["id"][0]
                if job_id not in jobs:  # what any relay answers for an id it never made
                    data = b'{"error": {"message": "task not found"}}'
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                _, link = SCENARIOS[jobs[job_id]]
                self._json(
                    {
                        "id": job_id,
                        "status": "completed",
                        "video_url": link.format(base=base),
                        "width": 180,
                        "height": 320,
                    }
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(mp4)))
            self.end_headers()
            self.wfile.write(mp4)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory, hostile):
    return {
        "SORA_NB_DATA_DIR": str(tmp_path_factory.mktemp("sora-data")),
        "SORA_BASE_URL": f"{hostile}/v1",
        "SORA_API_KEY": None,
        "SORA_DIALECT": None,
    }


def test_hostile_answers_execute_nothing_and_stay_in_the_folder(lab, page, page_log, hostile):
    cells = [
        "%load_ext sora_nb\n%config SoraMagics.poll_interval = 0.2",
        "%%sora_video\nids",
        "%%sora_video --link\nquotes",
        "%%sora_video\nscheme",
        "%%sora_video --link\nscheme",
    ]
    write_notebook(lab.root, "hostile.ipynb", cells)
    lab.open(page, "hostile.ipynb")
    states = []
    for index in range(len(cells)):
        run_cell(page, index)
        states.append(wait_cell_done(page, index, timeout=60_000))

    # The hostile id became a plain file name inside videos/, and its video plays.
    files = sorted(
        p.relative_to(lab.root).as_posix()
        for p in lab.root.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    )
    assert files[0] == "hostile.ipynb" and len(files) == 2, files
    assert files[1].startswith("videos/") and files[1].count("/") == 1, files
    assert not (lab.root.parent / "evil").exists() and not list(lab.root.parent.glob("*evil*"))
    video = cell(page, 1).locator(".jp-OutputArea video")
    assert video.count() == 1
    assert "/files/videos/evil_img_src_x_onerror" in video.evaluate("v => v.getAttribute('src')")
    assert EVIL_ID in states[1]["text"]  # shown, as text, in the caption

    # The link with quotes and brackets is one attribute value, not markup.
    link = cell(page, 2).locator(".jp-OutputArea video")
    assert link.count() == 1
    assert link.evaluate("v => v.getAttribute('src')") == hostile + QUOTED_LINK

    # javascript: links are refused: one line when downloading, no player when linking.
    assert "non-http(s) link" in states[3]["text"] and "Traceback" not in states[3]["text"]
    assert cell(page, 4).locator("video").count() == 0
    assert "no playable video" in states[4]["text"]

    page.wait_for_timeout(500)
    assert page.locator(".jp-OutputArea img, .jp-OutputArea script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert not page_log.dialogs, page_log.dialogs
    assert all(s["prompt"] for s in (cell_state(page, i) for i in range(len(cells))))
