"""An installed package works outside the repository (dcibench.paths): the wheel ships the
quality check's recorded values and the learned solvers' checkpoints, and the commands
that default to a shipped set take it from the working directory, or say in one line
that it is not there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = "instances/tiny-v1/p1-n3-q2-s0.json"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the project's sources (no build files in the repo)."""
    root = tmp_path_factory.mktemp("build")
    source = root / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("dcibench", "solvers"):
        shutil.copytree(REPO / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(root / "dist"), str(source)],
                   check=True, capture_output=True)
    (found,) = (root / "dist").glob("dcibench-*.whl")
    return found


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked, as an install would lay it out in site-packages."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _dcibench(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m dcibench ARGS`` with the installed copy first on the path, in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "dcibench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_the_wheel_ships_the_package_data(wheel: Path) -> None:
    shipped = {str(p.relative_to(REPO)) for p in (REPO / "solvers/rl/checkpoints").rglob("*")
               if p.is_file()}
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "dcibench/data/quality_baseline.json" in names
    assert shipped and shipped <= names


def test_the_installed_copy_is_the_one_imported(site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = ("import dcibench.paths as p, solvers; print(p.__file__); print(solvers.__file__); "
            "print(p.IN_CHECKOUT); print(p.REPO_ROOT)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    paths, solvers, in_checkout, root = out.stdout.splitlines()
    assert paths.startswith(str(site)) and solvers.startswith(str(site))
    assert in_checkout == "False" and Path(root).resolve() == tmp_path.resolve()


@pytest.mark.parametrize("args", [("run", "--solver", "lc", "--quiet"),
                                  ("quality", "--solvers", "lc"),
                                  ("study", "--out", "study", "--solvers", "lc")])
def test_without_the_sets_a_command_says_so_in_one_line(site: Path, tmp_path: Path,
                                                        args: tuple[str, ...]) -> None:
    done = _dcibench(site, tmp_path, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: instances/"), done.stderr
    assert "run from its root" in lines[0]
    assert not (tmp_path / "results").exists()


def test_with_the_sets_in_the_working_directory_the_commands_run(site: Path,
                                                                tmp_path: Path) -> None:
    (tmp_path / "instances").symlink_to(REPO / "instances", target_is_directory=True)
    quality = _dcibench(site, tmp_path, "quality", "--solvers", "lc")
    assert quality.returncode == 0, quality.stdout + quality.stderr
    assert "lc: ok" in quality.stdout
    learned = _dcibench(site, tmp_path, "run", "--solver", "ddqn", "--instances", TINY,
                        "--quiet")  # its shipped checkpoint, from the installed package
    assert learned.returncode == 0, learned.stdout + learned.stderr
    (written,) = (tmp_path / "results").glob("ddqn-*.jsonl")
    assert '"status": "ok"' in written.read_text()
