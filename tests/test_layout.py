"""The package's wings import only downwards, and the library never imports Kedro
(``lift/__init__.py`` says which wing is which).

Every ``import`` and ``from ... import`` statement is read with ``ast``, wherever it stands (a
function's body, a ``TYPE_CHECKING`` block), so a lazy import counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "lift"

# bottom to top: a wing imports itself and the wings before it, never one after it
WINGS = (
    "config",
    "data",
    "evaluation",
    "method",
    "studies",
    "estimator",
    "project",
    "pipelines",
    "settings",
    "pipeline_registry",
    "__main__",
    "__init__",
)
LIBRARY = ("config", "data", "evaluation", "method", "studies", "estimator")
KEDRO = ("kedro", "kedro_datasets", "kedro_mlflow", "kedro_viz", "kedro_telemetry")
MOST_TOP_LEVEL_ENTRIES = 12  # the bound: Kedro's files, the API and the wings


def wing_of(module: str) -> str:
    """The wing of a dotted module name under ``lift`` (``lift.method.parsing`` -> method);
    ``lift`` itself is the package's ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the file at ``path`` under the package folder
    ``root``; ``from lift import x`` counts as ``lift.x`` when ``x`` is a module or package."""
    module = ".".join(("lift", *path.relative_to(root).with_suffix("").parts))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = root.parent.joinpath(*f"{base}.{alias.name}".split("."))
                is_module = candidate.with_suffix(".py").exists() or candidate.is_dir()
                found.append((node.lineno, f"{base}.{alias.name}" if is_module else base))
    return found


def layering_faults(root: Path) -> list[str]:
    """Every import in the package at ``root`` that goes up the wings, or brings Kedro into
    the library, as ``file:line: what``."""
    faults = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        wing = relative.parts[0].removesuffix(".py")
        if wing not in WINGS:
            faults.append(f"{relative}: in no wing; add it to one (lift/__init__.py lists them)")
            continue
        for line, name in imports_of(path, root):
            top = name.split(".")[0]
            if top == "lift":
                imported = wing_of(name)
                if WINGS.index(imported) > WINGS.index(wing):
                    faults.append(f"{relative}:{line}: {wing} imports {name}, a wing above it")
            elif top in KEDRO and wing in LIBRARY:
                faults.append(f"{relative}:{line}: the library wing {wing} imports {name}")
    return faults


def test_no_wing_imports_upwards_and_the_library_never_imports_kedro():
    assert layering_faults(SOURCE) == []


def test_the_top_level_shows_the_wings():
    entries = sorted(p.name for p in SOURCE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= MOST_TOP_LEVEL_ENTRIES, entries
    for wing in ("config", "data", "evaluation", "method", "studies", "project", "pipelines"):
        docstring = ast.get_docstring(ast.parse((SOURCE / wing / "__init__.py").read_text()))
        assert docstring and "import" in docstring.lower(), f"lift/{wing} does not state its rule"


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "lift" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "lift"


@pytest.mark.parametrize(
    ("files", "fault"),
    [
        (
            {"method/parsing.py": "import kedro.pipeline\n"},
            "method/parsing.py:1: the library wing method imports kedro.pipeline",
        ),
        (
            {"data/splits.py": "def f():\n    from kedro_datasets.pandas import CSVDataset\n"},
            "data/splits.py:2: the library wing data imports kedro_datasets.pandas",
        ),
        (
            {"data/splits.py": "from lift.method import learner\n", "method/learner.py": ""},
            "data/splits.py:1: data imports lift.method.learner, a wing above it",
        ),
        (
            {"evaluation/metrics.py": "from ..project.hooks import RunSummary\n"},
            "evaluation/metrics.py:1: evaluation imports lift.project.hooks, a wing above it",
        ),
        (
            {"project/hooks.py": "from lift import pipelines\n", "pipelines/__init__.py": ""},
            "project/hooks.py:1: project imports lift.pipelines, a wing above it",
        ),
        ({"helpers.py": ""}, "helpers.py: in no wing"),
    ],
)
def test_the_layering_check_finds_each_kind_of_fault(tmp_path, files, fault):
    root = _package(tmp_path, files)
    assert any(found.startswith(fault) for found in layering_faults(root)), layering_faults(root)


def test_the_layering_check_allows_downward_and_kedro_where_it_belongs(tmp_path):
    root = _package(
        tmp_path,
        {
            "method/learner.py": "from lift.data import splits\nfrom . import parsing\n",
            "method/parsing.py": "from lift.config.errors import DatasetInputError\n",
            "data/splits.py": "",
            "config/errors.py": "",
            "project/hooks.py": "from kedro.framework.hooks import hook_impl\n",
            "pipelines/nodes.py": "from lift.project import hooks\nfrom lift import method\n",
        },
    )
    assert layering_faults(root) == []
