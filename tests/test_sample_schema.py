"""One sample schema end to end: vocabularies on the stored row, frozen records, a grader exception as
a typed reason stored as the same text, one definition of a failed verdict, and the typed accessor
layer reports and the viewer read frames through."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from evalkit.grade import GradeCache, GraderConfig, Item, SandboxGrader
from evalkit.grade import sandbox as sandbox_mod
from evalkit.records import (
    Cell,
    ForcingConfig,
    Generation,
    Grade,
    GradeError,
    GradeReason,
    SamplingConfig,
    VocabularyError,
    cap_label,
    failed_verdict,
    parse_reason,
)
from evalkit.store import (
    FIELDS,
    CellColumns,
    Col,
    ResultStore,
    SampleRow,
    Samples,
    check_frame,
    open_results,
    write_parquet,
)
from evalkit.store.row import from_table, to_table

OLD = Path(__file__).parent / "data" / "results_v2" / "v2_fixture"


def _row(**changes: object) -> SampleRow:
    return open_results(OLD).read_records()[0].replace(**changes)


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("method", "beam", "sequential, parallel, rejection"),
    ("thinking_end", "natural", "cap, delimiter, eos, oov"),
    ("answer_finish", "eos", "stop, length"),
    ("grade_reason", "wrong", "equivalent, not_equivalent"),
])
def test_a_value_outside_its_vocabulary_is_refused_by_field(field: str, value: str, allowed: str) -> None:
    with pytest.raises(VocabularyError, match=rf"{field}: '{value}' is not one of {allowed}"):
        _row(**{field: value})
    with pytest.raises(VocabularyError, match=field):
        SampleRow.from_dict({**_row().to_dict(), field: value})
    assert issubclass(VocabularyError, ValueError)


def test_stored_vocabularies_read_typed_and_write_the_same_text(tmp_path: Path) -> None:
    row = _row(grade_reason="error:KeyError", thinking_end=None, answer_finish="length")
    assert row.grade_reason == GradeError("KeyError") and row.to_dict()["grade_reason"] == "error:KeyError"
    assert _row().grade_reason is GradeReason(_row().to_dict()["grade_reason"])
    assert row.grade is not None and row.grade.failed and row.grade.error == GradeError("KeyError")
    store = ResultStore(tmp_path / "r")
    path = store.write_part(row.cell_id, row.seed, "p", [row])
    assert pq.read_table(path).column("grade_reason").to_pylist() == ["error:KeyError"]
    assert store.read_part(path) == [row]
    # writing what was read gives the same bytes (the stored text is the typed value's)
    again = tmp_path / "again.parquet"
    write_parquet(again, to_table(from_table(pq.read_table(path))))  # the store's own writer, as it wrote the part
    assert again.read_bytes() == path.read_bytes()
    assert store.read_rows()["grade_reason"].tolist() == ["error:KeyError"]


def test_records_are_frozen() -> None:
    g = Grade(True, "1", "equivalent", "v")
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.reason = GradeReason.NO_ANSWER  # type: ignore[misc]
    assert dataclasses.replace(g, correct=False).correct is False
    assert Generation.__dataclass_params__.frozen and SampleRow.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(VocabularyError, match="method: 'beam'"):
        Cell("t", "m", "s1", ForcingConfig(cap=10), SamplingConfig(), method="beam")  # type: ignore[arg-type]


def test_a_grader_exception_is_a_typed_reason_stored_as_before(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    def boom(item: Item, cfg: GraderConfig) -> Grade:
        raise ZeroDivisionError("no luck")

    monkeypatch.setattr(sandbox_mod, "grade_item_inprocess", boom)  # the forked worker inherits it
    with SandboxGrader(workers=1, context="fork", max_memory_mb=None) as sb:
        (g,) = sb.grade([Item("\\boxed{1}", "1", "math")])
    assert g.reason == GradeError("ZeroDivisionError") and g.error is not None and g.error.message == "no luck"
    assert (g.correct, g.reason_text, g.failed, g.transient) == (False, "error:ZeroDivisionError", True, False)
    cache = GradeCache(tmp_path / "c.sqlite")
    items = [Item("a", "1", "math"), Item("b", "1", "math"), Item("c", "1", "math")]
    cache.put_many(items, [g, Grade(False, None, "timeout", ""), Grade(True, "1", "equivalent", "v")])
    got = cache.get_many(items)
    assert got[0] is not None and got[0].reason == GradeError("ZeroDivisionError")  # cached, parsed back
    assert got[1] is None  # a transient verdict is never cached
    assert got[2] is not None and got[2].reason is GradeReason.EQUIVALENT
    cache.close()


def test_one_definition_of_a_failed_verdict() -> None:
    failed = {r for r in GradeReason if failed_verdict(r)}
    assert failed == {GradeReason.TIMEOUT, GradeReason.WORKER_DIED, GradeReason.MEMORY_LIMIT}
    assert {r for r in GradeReason if r.transient} == {GradeReason.TIMEOUT, GradeReason.WORKER_DIED}
    assert failed_verdict("error:ValueError") and not failed_verdict("no_answer")
    assert parse_reason("error:") == GradeError("")
    with pytest.raises(VocabularyError, match="error:<exception>"):
        parse_reason("bogus")


def test_columns_are_the_row_fields_and_samples_read_them() -> None:
    assert tuple(v for k, v in vars(Col).items() if k.isupper()) == FIELDS
    df = open_results(OLD).read_rows()
    s = Samples.of(df)
    assert Samples.of(s) is s and len(s) == len(df) and s.correct.equals(df["correct"])
    cells = dict(s.by_cell())
    assert list(cells) == list(dict.fromkeys(df["cell_id"]))
    c = next(iter(cells.values())).cell
    assert isinstance(c, CellColumns) and c.method in ("sequential", "parallel") and isinstance(c.n_ignore, int)
    mat = s.of_method("sequential").accuracy_matrix()
    assert mat.index.name == "problem_id" and mat.columns.name == "seed"
    assert s.has_method("parallel") and not s.has_method("rejection")
    assert s.new_tokens().equals(df["thinking_tokens"] + df["forced_tokens"] + df["answer_tokens"])
    with pytest.raises(KeyError, match="colour"):
        s.column("colour")


def test_frames_are_checked_and_caps_labelled() -> None:
    df = open_results(OLD).read_rows()
    assert check_frame(df) is df
    bad = df.assign(thinking_end=["natural"] + list(df["thinking_end"][1:]))
    with pytest.raises(VocabularyError, match="thinking_end: \\['natural'\\] not one of cap, delimiter, eos, oov"):
        check_frame(bad)
    assert [cap_label(c) for c in (None, float("nan"), pd.NA, np.int64(30), 60.0, 7)] == \
        ["none", "none", "none", "30", "60", "7"]
