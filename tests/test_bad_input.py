"""Bad input, as a new user gives it, gets a one-line message or a refusal: no traceback,
no file changed, no result silently wrong (issue 10)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dcibench import evaluator
from dcibench.cli import main
from dcibench.io import FormatError, load_instance, load_schedule, save_instance, save_schedule
from dcibench.registry import make_solver
from dcibench.report import load_results, with_gaps
from dcibench.runner import check_results_file, read_records

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "instances" / "tiny-v1"
FIRST = TINY / "p1-n2-q2-s0.json"


def _one_line(text: str) -> str:
    """The message, checked to be one line with no traceback."""
    text = text.strip()
    assert "Traceback" not in text and text.count("\n") == 0, text
    return text


def _copy_set(tmp_path: Path, names: tuple[str, ...] = ("p1-n2-q2-s0.json",)) -> Path:
    folder = tmp_path / "tiny-v1"
    folder.mkdir()
    for name in names:
        shutil.copy(TINY / name, folder / name)
    return folder


# -- generate ------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "fragment"), [
    (["--n-eds", "0"], "at least 1"),
    (["--seeds", "-1"], "at least 0"),
    (["--n-tasks", "0"], "at least 1"),
    (["--set", "slot_length_s=-1"], "field 'slot_length_s': -1 is out of range"),
    (["--set", "slot_length_s=0"], "field 'slot_length_s'"),
    (["--set", "levels=abc"], "field 'levels': expected a number, got str"),
    (["--set", "levels=2.5"], "field 'levels': expected an integer"),
    (["--set", "n_subcarriers=0"], "field 'radio.subcarriers': 0 is out of range"),
    (["--set", "penalty=-20"], "field 'cost.penalty': -20 is out of range"),
    (["--set", "area_m=abc"], "field 'area_m': expected a number"),
    (["--set", "ed_capacity_hz=5"], "field 'ed_capacity_hz': expected [low, high]"),
    (["--set", "profile=nope"], "unknown profile 'nope'"),
    (["--set", "arrival_window_slots=0"], "field 'arrival_window_slots'"),
    (["--set", "deadline_s=1.1"], "field 'deadline_s'"),
    (["--set", "fading=1"], "field 'fading': expected true or false"),
])
def test_generate_refuses_bad_parameters(tmp_path: Path, args: list[str], fragment: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Every bad parameter is refused before anything is written, in the loader's words
    for what the loader checks (so no file the loader rejects is ever written)."""
    out = tmp_path / "set"
    with pytest.raises(SystemExit) as info:
        main(["generate", *args, "-o", str(out)])
    argparse_error = info.value.code == 2  # argparse: usage, then the message, on stderr
    message = capsys.readouterr().err.splitlines()[-1] if argparse_error else str(info.value)
    assert fragment in _one_line(message)
    assert not out.exists()


def test_generate_to_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as info:
        main(["generate", "--n-eds", "3", "-o", str(blocker / "x.json")])
    assert "cannot write" in _one_line(str(info.value))


def test_save_instance_refuses_what_the_loader_rejects(tiny_variant, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cost.penalty"):
        save_instance(tiny_variant(penalty=-1.0), tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


# -- run and sweep arguments ----------------------------------------------------------------

@pytest.mark.parametrize(("flag", "value"), [("--seeds", "0"), ("--seeds", "-1"),
                                             ("--workers", "0"), ("--time-limit", "-1"),
                                             ("--time-limit", "nan"), ("--grace", "-1")])
def test_run_refuses_bad_counts(flag: str, value: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.jsonl"
    with pytest.raises(SystemExit) as info:
        main(["run", "--solver", "lc", "--instances", str(FIRST), flag, value,
              "--out", str(out), "--quiet"])
    assert info.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err
    assert not out.exists()


def test_run_never_writes_over_an_instance_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``--out SOME-INSTANCE.json --resume`` is refused; the instance is left as it was."""
    target = tmp_path / "x.json"
    shutil.copy(FIRST, target)
    before = target.read_bytes()
    assert main(["run", "--solver", "lc", "--instances", str(FIRST), "--out", str(target),
                 "--resume", "--quiet"]) == 2
    assert "not a results file" in _one_line(capsys.readouterr().err)
    assert target.read_bytes() == before


def test_results_file_check_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    record = {"instance": "a", "instance_hash": "h", "solver": "lc", "solver_version": "1",
              "seed": 0, "status": "ok"}
    path.write_text(json.dumps(record) + "\n" + json.dumps({"step": 1}) + "\n")
    with pytest.raises(ValueError, match="line 2 is not a run record"):
        check_results_file(path)
    path.write_text(json.dumps(record) + "\n" + '{"torn')
    check_results_file(path)  # a torn last line: a results file a killed writer left


def test_unwritable_out_is_refused_before_any_run(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    start = time.perf_counter()
    assert main(["run", "--solver", "rollout", "--instances", str(REPO / "instances" / "paper-v1"),
                 "--out", str(blocker / "r.jsonl"), "--quiet"]) == 2
    assert "cannot write the results file" in _one_line(capsys.readouterr().err)
    assert time.perf_counter() - start < 20  # no run of the 30 was made first
    assert blocker.read_text() == "x"


def test_a_bad_instance_in_a_folder_says_why(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy_set(tmp_path)
    (folder / "bad.json").write_text('{"format": "dcibench-instance", "version": 1}')
    assert main(["run", "--solver", "lc", "--instances", str(folder),
                 "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "bad.json: field 'name': missing" in err and "Traceback" not in err


def test_interrupted_sweep_says_how_to_resume(tmp_path: Path) -> None:
    """Ctrl-C during a sweep: one line saying where the runs are and to use --resume; no
    traceback from the parent or its runs; every line of the file a whole record."""
    out = tmp_path / "r.jsonl"
    args = ["sweep", "--solvers", "rollout", "--instances", str(REPO / "instances" / "paper-v1"),
            "--workers", "2", "--out", str(out), "--quiet"]
    # as from a terminal: Python's Ctrl-C handler on (a background child starts with SIGINT
    # ignored), the command alone in its process group
    launch = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              f"sys.argv = ['dcibench', *{args!r}]; runpy.run_module('dcibench', run_name='__main__')")
    process = subprocess.Popen([sys.executable, "-c", launch], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "--resume" in _one_line(err)
    check_results_file(out)


# -- evaluate -------------------------------------------------------------------------------

def _schedule_for(instance_path: Path, path: Path) -> None:
    save_schedule(make_solver("ec").solve(load_instance(instance_path)).schedule, path)


def test_evaluate_warns_about_a_schedule_for_another_instance(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schedule = tmp_path / "s.json"
    _schedule_for(FIRST, schedule)
    main(["evaluate", str(TINY / "p1-n2-q3-s0.json"), str(schedule)])
    err = capsys.readouterr().err
    assert "written for instance 'p1-n2-q2-s0', not for 'p1-n2-q3-s0'" in _one_line(err)


def _write_document(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda d: d.__setitem__("levels", 10 ** 400), "field 'levels': an integer too large"),
    (lambda d: d["nodes"]["capacity_hz"].__setitem__(0, 10 ** 400),
     "field 'nodes.capacity_hz[0]': an integer too large"),
    (lambda d: d["background_load"][0].__setitem__(1, -10 ** 400),
     "field 'background_load[0][1]': an integer too large"),
])
def test_integers_beyond_a_float_in_an_instance(tmp_path: Path, change, fragment: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(FIRST.read_text())
    change(document)
    bad, schedule = tmp_path / "bad.json", tmp_path / "s.json"
    _write_document(bad, document)
    _schedule_for(FIRST, schedule)
    assert main(["evaluate", str(bad), str(schedule)]) == 2
    assert fragment in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize(("tasks", "fragment"), [
    ({"²": [[0, 1, 1, 1, 1, 1, None]]}, "task ids are non-negative integers"),
    ({"٣": []}, "task ids are non-negative integers"),
    ({"01": []}, "no leading zeros"),
    ({"0": [[10 ** 400, 1, 1, 1, 1, 1, None]]}, "'tasks.0[0].slot': an integer too large"),
    ({"0": [[10 ** 30, 1, 1, 1, 1, 1, None]]},
     "'tasks.0[0].slot': 1000000000000000000000000000000 is out of range"),
])
def test_bad_task_ids_and_huge_integers_in_a_schedule(tmp_path: Path, tasks: dict,
                                                      fragment: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    _write_document(path, {"format": "dcibench-schedule", "version": 1, "tasks": tasks})
    assert main(["evaluate", str(FIRST), str(path)]) == 2
    assert fragment in _one_line(capsys.readouterr().err)
    with pytest.raises(FormatError):
        load_schedule(path)


def test_an_instance_too_large_for_memory_is_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Refused with the estimated size, before the evaluator allocates anything."""
    instance = load_instance(FIRST)
    need = evaluator.memory_estimate_bytes(instance)
    monkeypatch.setattr(evaluator, "physical_memory_bytes", lambda: need - 1)
    schedule = tmp_path / "s.json"
    save_schedule(make_solver("lc").solve(instance).schedule, schedule)
    assert main(["evaluate", str(FIRST), str(schedule)]) == 2
    message = _one_line(capsys.readouterr().err)
    assert "too large" in message and "needs about" in message and "refused" in message
    with pytest.raises(evaluator.InstanceTooLarge):
        evaluator.evaluate(instance, load_schedule(schedule))


def test_a_thousand_nodes_over_a_year_of_slots_would_need_terabytes() -> None:
    """The estimate grows as slots x nodes^2, the distance array's size."""
    instance = load_instance(FIRST)
    base = evaluator.memory_estimate_bytes(instance)
    assert base < 10 ** 6
    with pytest.raises(evaluator.InstanceTooLarge, match=r"needs about [\d.]+ kB"):
        evaluator.check_size(instance, limit_bytes=base // 2)


# -- report ---------------------------------------------------------------------------------

def _results(tmp_path: Path, folder: Path, seeds: int = 2) -> Path:
    out = tmp_path / "r.jsonl"
    assert main(["run", "--solver", "lc", "--instances", str(folder), "--seeds", str(seeds),
                 "--out", str(out), "--quiet"]) == 0
    return out


def test_report_names_the_lines_it_skips(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = _results(tmp_path, FIRST, seeds=3)
    lines = out.read_text().splitlines()
    out.write_text("\n".join([lines[0], "garbage", lines[1], lines[2][:40]]) + "\n")
    frame = load_results([out])
    assert len(frame) == 2 and frame.attrs["skipped_lines"] == {str(out): [2, 4]}
    capsys.readouterr()
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 lines that are not a record (lines 2, 4)" in _one_line(err)


@pytest.mark.parametrize("usage", ["lc", "lc:x:abc", ":x", "lc:x:-1"])
def test_report_refuses_a_malformed_usage(tmp_path: Path, usage: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = _results(tmp_path, FIRST, seeds=1)
    capsys.readouterr()
    assert main(["report", str(out), "--out", str(tmp_path / "rep"), "--usage", usage]) == 2
    assert "--usage expects SOLVER:INSTANCE[:SEED]" in _one_line(capsys.readouterr().err)


def test_report_of_a_folder_or_a_missing_file(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tmp_path, tmp_path / "nope.jsonl", FIRST):
        assert main(["report", str(path), "--out", str(tmp_path / "rep")]) == 2
        _one_line(capsys.readouterr().err)


def test_gaps_are_found_from_any_directory(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Records of a shipped set get their gaps wherever the report runs."""
    out = _results(tmp_path, TINY, seeds=1)
    inside = with_gaps(load_results([out]))
    monkeypatch.chdir(tmp_path)
    outside = with_gaps(load_results([out]))
    assert inside["best_known"].notna().all()
    assert outside["best_known"].tolist() == inside["best_known"].tolist()
    assert {r["instance_path"] for r in read_records(out)} == {
        f"instances/tiny-v1/{p.name}" for p in TINY.glob("p1-*.json")}


# -- resume and the sweep's table -----------------------------------------------------------

def test_resume_from_another_directory_adds_nothing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r.jsonl"
    monkeypatch.chdir(REPO)
    assert main(["run", "--solver", "lc", "--instances", "instances/tiny-v1", "--seeds", "2",
                 "--out", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["run", "--solver", "lc", "--instances", str(TINY), "--seeds", "2", "--out", str(out), "--resume", "--quiet"]) == 0
    copy = _copy_set(tmp_path, tuple(p.name for p in TINY.glob("p1-*.json")))
    assert main(["run", "--solver", "lc", "--instances", str(copy), "--seeds", "2",
                 "--out", str(out), "--resume", "--quiet"]) == 0  # same set, same content
    assert out.read_bytes() == before


def test_sweep_table_has_a_solver_column_and_no_mean_across_solvers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--solvers", "lc", "greedy", "--instances", str(FIRST),
                 "--seeds", "2", "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "solver"
    means = [line.split() for line in lines if " mean " in f" {line} "]
    assert [m[0] for m in means] == ["lc", "greedy"]
    assert all(m[2] == "2/2" for m in means)
