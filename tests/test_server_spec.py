"""Served models without a server: the spec's ``model.server``, the checks that name a dead URL, the
serve command, and the stop-token rule shared with the in-process engine (tests/test_server.py runs
the real servers)."""

from __future__ import annotations

import socket

import pytest

from evalkit.generate.engine import pop_stop
from evalkit.generate.server import ServerEngine, ServerError, endpoints, serve_command, serve_flags
from evalkit.pipeline import check_plan
from evalkit.report.build import served_note
from evalkit.spec import SpecError, build_plan, parse_spec


def _spec(server: str, engine: str = "") -> str:
    return f"""
name: s
model:
  id: smollm2-135m
  server: {server}{engine}
tasks: [{{name: math500, limit: 2}}]
sequential: {{caps: [64]}}
"""


def _dead() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_server_key_is_validated_with_file_lines() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(_spec('{urls: [http://a:1/v1, "ftp:/x", http://a:1], concurrency: 0, port: 3}'), source="s.yaml")
    text = str(e.value)
    assert "s.yaml:5: model.server.urls[1]: 'ftp:/x' is not a server URL" in text
    assert "s.yaml:5: model.server.concurrency: Input should be greater than or equal to 1" in text
    assert "s.yaml:5: model.server.port: unknown key" in text
    with pytest.raises(SpecError, match=r"model.server.urls: .*the same server is listed twice"):
        parse_spec(_spec("{urls: [http://a:1/v1, http://a:1]}"), source="s.yaml")
    with pytest.raises(SpecError, match=r"model.server.urls: List should have at least 1 item"):
        parse_spec(_spec("{urls: []}"), source="s.yaml")
    spec = parse_spec(_spec("{urls: [http://gpu-node-1:8000/v1]}"))
    s = spec.model_entries()[0].server
    assert s is not None and s.model is None and s.concurrency == 64 and s.token_ids is None


def test_check_names_a_dead_url_and_refuses_engine_args_beside_a_server() -> None:
    dead = _dead()
    plan = build_plan(parse_spec(_spec(f"{{urls: [{dead}]}}"), source="s.yaml"))
    with pytest.raises(SpecError) as e:
        check_plan(plan)
    assert str(e.value) == "s.yaml:5: model.server.urls[0]: connection refused"
    assert e.value.exit_code == 2
    check_plan(plan, "scripted")  # the scripted engine never asks the server
    plan = build_plan(parse_spec(_spec(f"{{urls: [{dead}]}}", "\n  engine: {dtype: float32}"), source="s.yaml"))
    with pytest.raises(SpecError, match=r"s.yaml:6: model.engine: not used with `server:`"):
        check_plan(plan)


def test_engine_on_a_dead_server_is_an_environment_error() -> None:
    dead = _dead()
    with pytest.raises(ServerError, match=r"connection refused") as e:
        ServerEngine([dead], "m")
    assert e.value.exit_code == 1


def test_serve_command_carries_evalkits_cpu_settings() -> None:
    cmd = serve_command("/models/m", "m", port=8123, cuda=False, args={"dtype": "float32"}, extra=["--seed", "1"])
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    flags = " ".join(cmd)
    for f in ("--model /models/m", "--served-model-name m", "--port 8123", "--enforce-eager",
              "--no-enable-chunked-prefill", "--block-size 32", "--enable-prefix-caching", "--dtype float32",
              "--enable-prompt-tokens-details", "--seed 1"):
        assert f in flags
    assert "--enforce-eager" not in " ".join(serve_command("/m", "m", cuda=True))
    flags = serve_flags({"a_b": True, "c": False, "d": 2, "e": {"x": 1}})
    assert flags == ["--a-b", "--no-c", "--d", "2", "--e", '{"x": 1}']


def test_endpoints_and_stop_tokens() -> None:
    assert endpoints("http://h:8000/v1/") == ("http://h:8000/v1", "http://h:8000")
    assert endpoints("http://h:8000") == ("http://h:8000/v1", "http://h:8000")
    eos = (2, 0)
    ids = [5, 6, 2]
    assert pop_stop(ids, "stop", None, (9,), eos) == 2 and ids == [5, 6]  # EOS: last id, stop_reason None
    ids = [5, 9]
    assert pop_stop(ids, "stop", 9, (9,), eos) == 9 and ids == [5]  # a stop id: last id, stop_reason the id
    ids = [5, 6]
    assert pop_stop(ids, "length", None, (9,), eos) is None and ids == [5, 6]


def test_report_says_when_a_run_was_not_token_exact() -> None:
    note = served_note({"models": {"m": {"server": {"urls": ["http://h:1/v1"], "token_exact": False}},
                                   "n": {"server": {"urls": ["http://h:2/v1"], "token_exact": True}}, "o": {}}})
    assert "Not token-exact:** m " in note and " n " not in note
