"""``evalkit view``: a local, offline web page over a results directory (no CDN, no network; the
assets ship in the package), and ``--export``: the same page as static files that open from disk."""

from __future__ import annotations

import json
import mimetypes
import shutil
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pyarrow.compute as pc

from evalkit.grade import GraderConfig, Item, grade_many
from evalkit.store import SAMPLE_KEY, Col
from evalkit.view.data import SweepData, sample_key

STATIC = Path(__file__).parent / "static"


class ViewData(SweepData):
    """:class:`SweepData` plus what only a server can do: text search and the reference verdict."""

    def search(self, q: str) -> dict[str, Any]:
        t = self.dataset.to_table(columns=[*SAMPLE_KEY, Col.RESPONSE, Col.EXTRACTED])
        hit = pc.or_(pc.match_substring(t[Col.RESPONSE], q), pc.match_substring(pc.fill_null(t[Col.EXTRACTED], ""), q))
        rows = t.filter(hit).select(list(SAMPLE_KEY)).to_pylist()
        return {"keys": [sample_key(r) for r in rows]}

    def sample(self, key: str) -> dict[str, Any]:
        s = super().sample(key)
        s["reference"] = reference_verdicts([s])[0]
        return s

    def api(self, kind: str, arg: str | None) -> Any:
        if kind == "overview":
            return getattr(self, "overview_cached", None) or self.overview()
        if kind == "index":
            return self.sample_index()
        if kind == "problem" and arg:
            task, _, pid = arg.partition("~")
            return self.problem(task, pid)
        if kind == "sample" and arg:
            return self.sample(arg)
        if kind == "search" and arg:
            return self.search(arg)
        raise KeyError(f"unknown request {kind!r}")


def reference_verdicts(samples: list[dict[str, Any]]) -> list[bool | None]:
    """Plain math-verify's verdict on each sample's answer (sandboxed), to show where evalkit differs."""
    items = [Item(s[Col.ANSWER_TEXT] or "", s[Col.GOLD], s[Col.ANSWER_TYPE]) for s in samples]
    try:
        grades = grade_many(items, GraderConfig(reference=True), workers=1, timeout_s=5.0)
    except Exception:  # noqa: BLE001 - the page still works without the comparison
        return [None] * len(samples)
    # a grading process that failed says nothing about the answer: no verdict rather than "incorrect"
    return [None if g.failed else g.correct for g in grades]


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
          ready: Callable[[str], None] | None = None) -> ThreadingHTTPServer:
    """Start the server in a background thread; returns it (``shutdown()`` stops it)."""
    data = ViewData(results_dir)
    data.overview_cached = data.overview()  # computed before the URL is printed: the first page is fast
    httpd = ThreadingHTTPServer((host, port), _handler(data))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://{host}:{httpd.server_address[1]}/"
    if ready:
        ready(url)
    return httpd


def _write_js(out: Path, name: str, obj: Any) -> int:
    body = f"window.EVALKIT_DATA = window.EVALKIT_DATA || {{}};\nwindow.EVALKIT_DATA[{json.dumps(name)}] = " + \
        json.dumps(obj, default=str) + ";\n"
    (out / "data" / f"{name}.js").write_text(body, encoding="utf-8")
    return len(body)


def export(results_dir: Path, out: Path, say: Callable[[str], None] = print) -> Path:
    """Write the page and the data of every page (overview, sample index, problems, samples) as static
    files under ``out``; ``out/index.html`` opens from disk. Written to a temporary directory renamed
    at the end."""
    data = SweepData(results_dir)
    tmp = out.with_name(f".{out.name}.export-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "data").mkdir(parents=True)
    shutil.copytree(STATIC, tmp / "static")
    html = (
        (STATIC / "index.html").read_text().replace("<!--STATIC-->", "<script>window.EVALKIT_STATIC = true;</script>")
    )
    (tmp / "index.html").write_text(html)
    if (data.root / "figures").is_dir():
        shutil.copytree(data.root / "figures", tmp / "figures")
    n = _write_js(tmp, "overview", data.overview()) + _write_js(tmp, "index", data.sample_index())
    idx = data.index
    for task, pid in idx[[Col.TASK, Col.PROBLEM_ID]].drop_duplicates().itertuples(index=False):
        n += _write_js(tmp, "problem-" + f"{task}~{pid}".encode().hex(), data.problem(task, pid))
        df = data._rows(list(SAMPLE_KEY), task=task, problem_id=pid)  # noqa: SLF001
        samples = [data.sample(sample_key(r)) for r in df[list(SAMPLE_KEY)].to_dict("records")]
        for s, ref in zip(samples, reference_verdicts(samples), strict=True):
            n += _write_js(tmp, "sample-" + s["key"].encode().hex(), {**s, "reference": ref})
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    say(f"exported {len(idx)} samples ({n / 1e6:.1f} MB of data) to {out}; open {out / 'index.html'}")
    return out
