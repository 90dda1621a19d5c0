"""What modules import: the training subprocess and the sampler stay light.

Two kinds of check: a fresh Python that imports a module and reports what
``sys.modules`` then holds, and a walk of the modules' own import statements
(any depth, lazy ones in functions included, ``if TYPE_CHECKING:`` blocks
left out, following yolo-lab's modules and the subpackage ``__init__`` files
an import runs), which also sees an import a function would make later.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def _module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imported_names(name: str) -> set[str]:
    """The modules that ``name``'s import statements name, absolute."""
    path = _module_file(name)
    assert path is not None, f"no module {name}"
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if _module_file(submodule) else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _yolo_lab_closure(start: str) -> set[str]:
    """The yolo-lab modules importing ``start`` may run, the package's own
    ``__init__`` aside."""
    seen: set[str] = set()
    parts = start.split(".")
    # Importing yolo_lab.a.b runs yolo_lab/a/__init__.py first.
    todo = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in _imported_names(name):
            if not imported.startswith("yolo_lab."):
                continue
            parts = imported.split(".")
            todo.extend(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return seen


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a new Python in the repository (what a runner process imports)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    return out


def test_the_walk_sees_a_real_import_of_the_doctor() -> None:
    # Without this, a walk that found nothing would pass the test below.
    assert "yolo_lab.environment.report" in _yolo_lab_closure("yolo_lab._comm")
    assert "yolo_lab.training.rundir" in _yolo_lab_closure("yolo_lab._runner")


def test_the_sampler_and_the_runner_do_not_import_the_doctor() -> None:
    for module in (
        "yolo_lab.telemetry",
        "yolo_lab._runner",
        "yolo_lab._runner.supervisor",
        "yolo_lab.training.rundir",
    ):
        closure = _yolo_lab_closure(module)
        doctor = [name for name in closure if name.startswith("yolo_lab.environment")]
        assert not doctor, f"{module} imports the doctor: {doctor}"
    own = _imported_names("yolo_lab.training.rundir")
    assert not [name for name in own if name.startswith("yolo_lab")], (
        "the run folder's module, which the runner imports, imports nothing of yolo-lab"
    )


def test_importing_the_runner_imports_neither_torch_nor_yaml() -> None:
    # The first thing every training subprocess does, before YOLOv5 is loaded.
    code = (
        "import sys\n"
        "import yolo_lab._runner, yolo_lab.training.rundir\n"
        "print(sorted(m for m in ('torch', 'yaml', 'yolov5') if m in sys.modules))\n"
    )
    out = _fresh_python(code)
    assert out.stdout.strip() == "[]"


def test_the_runner_imports_only_what_it_runs() -> None:
    # Each run, autotune probe and DDP rank starts one: the package's public
    # API, the doctor, the comm, the sampler and the training API stay
    # unimported.
    code = (
        "import sys\n"
        "import yolo_lab._runner\n"
        "heavy = ('yolo_lab._comm', 'yolo_lab.bench', 'yolo_lab.telemetry.monitor',\n"
        "         'yolo_lab.telemetry.sampler', 'yolo_lab.compare', 'yolo_lab.environment',\n"
        "         'yolo_lab.protocol', 'yolo_lab.training.api', 'yolo_lab.training.detached',\n"
        "         'yolo_lab.training.hub')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = _fresh_python(code)
    assert out.stdout.strip() == "[]"


def test_the_public_names_load_when_first_used() -> None:
    code = (
        "import sys, yolo_lab, yolo_lab.training as t\n"
        "before = 'yolo_lab.training.api' in sys.modules\n"
        "doctor_before = 'yolo_lab.environment' in sys.modules\n"
        "from yolo_lab import train, autotune, doctor, __version__\n"
        "print(before, doctor_before, train.__module__, autotune.__module__, doctor.__module__,\n"
        "      t.rundir.__name__, bool(__version__))\n"
        "try:\n    yolo_lab.nothing\nexcept AttributeError as e:\n    print('AttributeError', e)\n"
        "try:\n    t.nothing\nexcept AttributeError as e:\n    print('AttributeError', e)\n"
    )
    out = _fresh_python(code)
    lines = out.stdout.strip().splitlines()
    assert lines[0] == (
        "False False yolo_lab.training.api yolo_lab.training.autotune.api "
        "yolo_lab.environment.report yolo_lab.training.rundir True"
    )
    assert lines[1:] == [
        "AttributeError module 'yolo_lab' has no attribute 'nothing'",
        "AttributeError module 'yolo_lab.training' has no attribute 'nothing'",
    ]


def _all_modules() -> list[str]:
    package = REPO / "yolo_lab"
    names = []
    for path in package.rglob("*.py"):
        if "labextension" in path.parts:
            continue
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return sorted(names)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_yolo_lab_modules() -> None:
    # Lazy imports in functions count: a cycle through one still ties the
    # rooms together. A package's __init__ counts as the package.
    modules = set(_all_modules())
    graph = {
        name: {m for m in _imported_names(name) if m in modules and m != name} for name in modules
    }
    assert _cycles(graph) == []
    # The check finds a planted cycle.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
