"""``evalkit view``: a local, offline web page over a results directory (no CDN, no network; the
assets ship in the package), and ``--export``: the same page as static files that open from disk."""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from evalkit.grade import GraderConfig, Item, SandboxGrader
from evalkit.grade.stated import stated_answer
from evalkit.store import Col
from evalkit.view.data import SweepData, parse_query, sample_key

STATIC = Path(__file__).parent / "static"
REFERENCE_TIMEOUT_S = 5.0


class ReferenceGrader:
    """Plain math-verify's verdict on answers (sandboxed), to show where evalkit differs: one sandbox kept
    for the server's life (not a process per sample), each distinct answer graded once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sandbox: SandboxGrader | None = None
        self.seen: dict[Item, bool | None] = {}

    def start(self) -> None:
        """Start the sandbox's worker process (forked: best before other threads run)."""
        with self.lock:
            if self.sandbox is None:
                self.sandbox = SandboxGrader(GraderConfig(reference=True), workers=1, timeout_s=REFERENCE_TIMEOUT_S)

    def verdicts(self, items: list[Item]) -> list[bool | None]:
        with self.lock:
            todo = list(dict.fromkeys(it for it in items if it not in self.seen))
            if todo:
                try:
                    if self.sandbox is None:
                        self.sandbox = SandboxGrader(GraderConfig(reference=True), workers=1,
                                                     timeout_s=REFERENCE_TIMEOUT_S)
                    grades = self.sandbox.grade(todo)
                except Exception:  # noqa: BLE001 - the page still works without the comparison
                    return [self.seen.get(it) for it in items]
                # a grading process that failed says nothing about the answer: no verdict rather than "incorrect"
                self.seen.update({it: None if g.failed else g.correct for it, g in zip(todo, grades, strict=True)})
            return [self.seen[it] for it in items]

    def close(self) -> None:
        with self.lock:
            if self.sandbox is not None:
                self.sandbox.close()
                self.sandbox = None


def reference_items(samples: list[dict[str, Any]]) -> list[Item]:
    return [Item(s[Col.ANSWER_TEXT] or "", s[Col.GOLD], s[Col.ANSWER_TYPE]) for s in samples]


def reference_verdicts(samples: list[dict[str, Any]], grader: ReferenceGrader | None = None) -> list[bool | None]:
    """Plain math-verify's verdict on each sample's answer (sandboxed; ``grader`` keeps its sandbox)."""
    own = grader is None
    grader = grader or ReferenceGrader()
    try:
        return grader.verdicts(reference_items(samples))
    finally:
        if own:
            grader.close()


class ViewData(SweepData):
    """:class:`SweepData` plus what only a server does: the reference verdict from a kept sandbox."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.reference = ReferenceGrader()

    def sample(self, key: str) -> dict[str, Any]:
        s = super().sample(key)
        s["reference"] = self.reference.verdicts(reference_items([s]))[0]
        return s

    def api(self, kind: str, arg: str | None) -> Any:
        if kind == "overview":
            return getattr(self, "overview_cached", None) or self.overview()
        if kind == "index":
            return self.sample_index(parse_query(arg))
        if kind == "problem" and arg:
            page, _, rest = arg.partition("~")
            if not page.isdigit():  # "task~problem": the first page
                page, rest = "0", arg
            task, _, pid = rest.partition("~")
            return self.problem(task, pid, int(page))
        if kind == "sample" and arg:
            return self.sample(arg)
        if kind == "search" and arg:
            keys, complete = self.search(arg)
            return {"keys": [sample_key(k) for k in keys], "complete": complete}
        raise KeyError(f"unknown request {kind!r}")


class ViewServer(ThreadingHTTPServer):
    """The page's HTTP server; ``shutdown()`` also ends the reference grader's sandbox."""

    daemon_threads = True
    data: ViewData

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()
        self.data.reference.close()


def _handler(data: ViewData) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path = unquote(url.path)
            try:
                if path in ("/", "/index.html"):
                    return self._send(200, (STATIC / "index.html").read_bytes(), "text/html; charset=utf-8")
                if path.startswith("/api/"):
                    arg = parse_qs(url.query).get("arg", [None])[0]
                    body = json.dumps(data.api(path[5:], arg), default=str).encode()
                    return self._send(200, body, "application/json")
                base, name = (STATIC, path[8:]) if path.startswith("/static/") else (
                    (data.root / "figures", path[9:]) if path.startswith("/figures/") else (None, ""))
                f = (base / name).resolve() if base else None
                if f is None or base.resolve() not in f.parents or not f.is_file():
                    return self._send(404, b"not found", "text/plain")
                return self._send(200, f.read_bytes(), mimetypes.guess_type(f.name)[0] or "application/octet-stream")
            except KeyError as e:
                return self._send(404, str(e).encode(), "text/plain")

    return Handler


def serve(results_dir: Path, port: int = 8765, host: str = "127.0.0.1",
          ready: Callable[[str], None] | None = None) -> ViewServer:
    """Start the server in a background thread; returns it (``shutdown()`` stops it)."""
    data = ViewData(results_dir)
    # the reference grader's sandbox starts (and loads its grader) beside the index, not at the first sample
    data.reference.start()
    def warm_up() -> None:  # and the sample page's own answer reader (math-verify's patterns, ~1 s to import)
        data.reference.verdicts([Item("1", "1", "integer")])
        stated_answer("\\boxed{1}", "1", "integer")

    warm = threading.Thread(target=warm_up, daemon=True)
    warm.start()
    data.overview_cached = data.overview()  # computed before the URL is printed: the first page is fast
    _ = data.by_problem, data.options  # so is every later request
    for task in data.index[Col.TASK].unique():
        data.problem_text(task, "")  # the tasks' problem texts, loaded once
    warm.join()
    httpd = ViewServer((host, port), _handler(data))
    httpd.data = data
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://{host}:{httpd.server_address[1]}/"
    if ready:
        ready(url)
    return httpd
