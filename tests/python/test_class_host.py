"""The host side of a class (launcher/templates/yolo_lab_class.py), attacked.

The Hub runs as root and makes each student's folders before their server
starts; these tests plant what a student (or another local user) could have
left there and check that nothing outside the student's folders changes.
Real uids (the tests run as root, as the Hub does), real files, the real copy
in a child process that runs as the student. The class service's handlers
run under a real JupyterHub in launcher/test/classroom.test.ts; its pure
parts (what a report may hold, the teacher's table) are here.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from launcher_templates import load_template

STUDENT = 20_731  # a uid no account on this machine has
OTHER = 20_732

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="plays the Hub, which runs as root"),
]


@pytest.fixture(scope="module")
def host() -> ModuleType:
    return load_template("yolo_lab_class")


@pytest.fixture
def tree() -> Iterator[Path]:
    """A folder everyone may enter (a student's child process reads the course in it)."""
    top = Path(tempfile.mkdtemp(prefix="yolo-lab-class-host-"))
    top.chmod(0o755)
    yield top
    shutil.rmtree(top)


def _owner(path: Path) -> int:
    return os.lstat(path).st_uid


def test_a_new_students_folder_is_theirs_alone(host: ModuleType, tree: Path) -> None:
    parent = host.trusted_parent(tree / "students")
    folder = host.student_folder(parent, "alice", STUDENT)
    st = os.lstat(folder)
    assert st.st_uid == STUDENT and stat.S_IMODE(st.st_mode) == 0o700
    # Again (the next start): the same folder, nothing else changes.
    (folder / "notes.txt").write_text("mine")
    assert host.student_folder(parent, "alice", STUDENT) == folder
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_link_in_place_of_the_folder_is_refused_and_its_target_untouched(
    host: ModuleType, tree: Path
) -> None:
    victim = tree / "etc"
    victim.mkdir()
    (victim / "passwd").write_text("root:x:0:0\n")
    parent = host.trusted_parent(tree / "runs")
    (parent / "alice").symlink_to(victim)
    with pytest.raises(host.FolderRefused, match="is a link or a file") as refused:
        host.student_folder(parent, "alice", STUDENT)
    assert refused.value.jupyterhub_message.startswith("Your server did not start: ")
    assert _owner(victim) == 0 and stat.S_IMODE(os.lstat(victim).st_mode) == 0o755
    assert (victim / "passwd").read_text() == "root:x:0:0\n"
    # A file in its place: refused the same way.
    (parent / "bob").write_text("not a folder")
    with pytest.raises(host.FolderRefused, match="is a link or a file"):
        host.student_folder(parent, "bob", STUDENT)


def test_a_folder_of_someone_else_is_refused_unchanged(host: ModuleType, tree: Path) -> None:
    parent = host.trusted_parent(tree / "students")
    theirs = parent / "alice"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, OTHER, OTHER)
    with pytest.raises(host.FolderRefused, match=f"belongs to uid {OTHER}"):
        host.student_folder(parent, "alice", STUDENT)
    st = os.lstat(theirs)
    assert st.st_uid == OTHER and stat.S_IMODE(st.st_mode) == 0o755


def test_a_parent_that_others_may_change_is_refused(host: ModuleType, tree: Path) -> None:
    open_to_all = tree / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)  # anyone could rename a student's folder in there
    with pytest.raises(host.FolderRefused, match="chmod go-w"):
        host.trusted_parent(open_to_all / "students")
    foreign = tree / "foreign"
    foreign.mkdir()
    os.chown(foreign, OTHER, OTHER)
    with pytest.raises(host.FolderRefused, match=f"belongs to uid {OTHER}"):
        host.trusted_parent(foreign / "students")
    # Sticky and root's (as /tmp): nobody renames what is not theirs; accepted.
    sticky = tree / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert host.trusted_parent(sticky / "students").is_dir()


def test_the_course_is_copied_as_the_student_and_never_through_their_links(
    host: ModuleType, tree: Path
) -> None:
    course = tree / "course"
    (course / "week2").mkdir(parents=True)
    for name in ("lesson1.ipynb", "lesson2.ipynb", "week2/lesson3.ipynb"):
        (course / name).write_text(f'{{"name": "{name}"}}')
    outside = tree / "outside"
    outside.mkdir()
    parent = host.trusted_parent(tree / "students")
    folder = host.student_folder(parent, "alice", STUDENT)
    # What the student left in their folder before the course was copied:
    # a dangling link where a lesson goes, a link where a course folder goes.
    (folder / "lesson1.ipynb").symlink_to(outside / "planted.ipynb")
    (folder / "week2").symlink_to(outside)
    host.copy_course_as(STUDENT, course, folder)
    assert list(outside.iterdir()) == [], "nothing written outside the student's folder"
    copied = folder / "lesson2.ipynb"
    assert copied.read_text() == '{"name": "lesson2.ipynb"}'
    assert _owner(copied) == STUDENT and stat.S_IMODE(os.lstat(copied).st_mode) == 0o600
    assert (folder / "lesson1.ipynb").is_symlink(), "the student's own link is left as it was"
    marker = folder / host.MARKER
    assert _owner(marker) == STUDENT
    # Copied once: a lesson the student deletes is not brought back.
    copied.unlink()
    host.copy_course_as(STUDENT, course, folder)
    assert not copied.exists()


def test_a_course_the_students_cannot_read_is_named_with_the_fix(
    host: ModuleType, tree: Path
) -> None:
    course = tree / "course"
    course.mkdir(mode=0o700)
    (course / "lesson1.ipynb").write_text("{}")
    folder = host.student_folder(host.trusted_parent(tree / "students"), "alice", STUDENT)
    with pytest.raises(host.FolderRefused, match="chmod -R a\\+rX"):
        host.copy_course_as(STUDENT, course, folder)
    assert not (folder / host.MARKER).exists(), "tried again at the next start"


def test_a_report_keeps_only_known_fields_of_the_right_type(host: ModuleType) -> None:
    many = [{"name": f"run{i}", "epoch": 1} for i in range(host.MAX_TRAININGS + 5)]
    report = host.clean_report(
        {
            "gpu_share": True,
            "trainings": [
                {
                    "name": "x" * 1000,
                    "epoch": "3",
                    "epochs": True,
                    "imgs_per_s": 9.5,
                    "evil": "<b>",
                },
                "not a training",
                *many,
            ],
        }
    )
    first = report["trainings"][0]
    assert report["gpu_share"] is None, "a bool is not a share"
    assert len(first["name"]) == 200 and "evil" not in first
    assert first["epoch"] is None and first["epochs"] is None and first["imgs_per_s"] == 9.5
    assert len(report["trainings"]) == host.MAX_TRAININGS
    with pytest.raises(ValueError, match="send"):
        host.clean_report(["a", "list"])


def test_the_teachers_table_says_which_servers_report_and_which_do_not(host: ModuleType) -> None:
    def user(name: str, ready: bool, admin: bool = False) -> dict[str, object]:
        return {"name": name, "admin": admin, "servers": {"": {"ready": True}} if ready else {}}

    now = 1000.0
    run = {"name": "exp", "epoch": 1}
    reports = {
        "alice": (now - 5, {"gpu_share": 0.25, "trainings": [run]}),
        "bob": (now - host.STALE_S - 10, {"gpu_share": None, "trainings": [run]}),
        "dan": (now - 1, {"gpu_share": None, "trainings": [run]}),
    }
    users = [user("teacher", True, True), user("alice", True), user("bob", True)]
    users += [user("carol", True), user("dan", False)]
    rows = {r["name"]: r for r in host.class_rows(users, reports, "teacher", now)}
    assert list(rows) == ["alice", "bob", "carol", "teacher", "dan"]
    assert rows["alice"]["trainings"] == [run] and rows["alice"]["gpu_share"] == 0.25
    assert (
        rows["bob"]["trainings"] == []
        and "no report from its server for 45 s" in rows["bob"]["error"]
    )
    assert "not reported yet" in rows["carol"]["error"]
    assert rows["dan"]["server"] == "stopped" and rows["dan"]["trainings"] == [], (
        "a stopped server's last report is not shown as training"
    )
    assert rows["teacher"]["me"] and not rows["alice"]["me"]
