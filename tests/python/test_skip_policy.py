"""The skip policy (skip_policy.py): a skip not in the allowed list fails a
strict run; the list's entries need their why. Real pytest runs in a
subprocess on a small suite of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from skip_policy import ALLOWED_ENV, STRICT_ENV, read_allowed, unexpected_skips

HERE = Path(__file__).resolve().parent

SUITE = """
import pytest

def test_runs():
    assert True

@pytest.mark.skip(reason="needs a GPU")
def test_allowed():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_not_allowed(n):
    pytest.skip("something was not installed")
"""


def _pytest(tmp_path: Path, allowed: str, strict: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "allowed.txt").write_text(allowed, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        ALLOWED_ENV: str(tmp_path / "allowed.txt"),
        STRICT_ENV: "1" if strict else "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "skip_policy", "-p", "no:cacheprovider",
         "-q", "test_suite.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_skip_not_allowed_fails_a_strict_run_and_is_named(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "test_suite.py::test_allowed  # needs a GPU\n", strict=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "skips not in the allowed list" in run.stdout
    assert "test_suite.py::test_not_allowed[1]: something was not installed" in run.stdout
    assert "test_suite.py::test_not_allowed[2]" in run.stdout
    assert "test_suite.py::test_allowed:" not in run.stdout


def test_allowed_skips_pass_and_a_lenient_run_only_names_the_others(tmp_path: Path) -> None:
    allowed = (
        "# both\n"
        "test_suite.py::test_allowed # needs a GPU\n"
        "test_suite.py::test_not_allowed[[]*] # only to test the list\n"
    )
    run = _pytest(tmp_path, allowed, strict=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "skips not in the allowed list" not in run.stdout
    lenient = _pytest(tmp_path, "", strict=False)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "test_suite.py::test_allowed: needs a GPU" in lenient.stdout
    assert f"{STRICT_ENV}=1 fails the run" in lenient.stdout


def test_an_entry_without_its_why_is_refused(tmp_path: Path) -> None:
    listed = tmp_path / "allowed.txt"
    listed.write_text("# a comment line\n\ntests/x.py::test_a  # needs root\ntests/x.py::test_b\n")
    with pytest.raises(ValueError, match=r"allowed.txt:4: tests/x.py::test_b has no '# why'"):
        read_allowed(listed)


def test_the_repositorys_list_is_read_and_matches_by_pattern() -> None:
    allowed = read_allowed(HERE.parent / "allowed-skips.txt")
    assert allowed and all(why for _, why in allowed)
    assert unexpected_skips(["tests/python/test_x.py::test_y"], allowed) == [
        "tests/python/test_x.py::test_y"
    ]
    assert unexpected_skips([pattern for pattern, _ in allowed], allowed) == []
