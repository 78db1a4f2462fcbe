"""The package's layout: the module map in ``lbi/__init__.py`` names every module; imports run one way (no cycles,
the model never imports the data sets, nothing but the app command imports the app or Gradio)."""

import ast
import re
from pathlib import Path

import lbi

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"lbi": ROOT / "lbi", "train": ROOT / "train"}


def modules(top: str) -> dict[str, Path]:
    """Dotted name -> file of every module of a top-level package."""
    base = PACKAGES[top]
    out = {}
    for path in base.rglob("*.py"):
        if "__pycache__" in path.parts or any(p.endswith("_weights") or p.endswith("_assets") for p in path.parts):
            continue
        parts = path.relative_to(base.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports (absolute or relative, at any depth of the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_module_map_names_every_module():
    listed: dict[str, set[str]] = {}
    for line in lbi.__doc__.splitlines():
        match = re.match(r"^ {4}(\S+/|\(top\)) +(.+)$", line)
        if match:
            folder = "" if match[1] == "(top)" else match[1].rstrip("/").replace("/", ".")
            names = re.split(r"\s{2,}", match[2].strip())[0]
            listed[folder] = {n.strip() for n in names.split(",") if n.strip()}
        elif re.match(r"^ {16}\S", line) and listed:  # the module list goes on
            last = list(listed)[-1]
            listed[last] |= {n.strip() for n in re.split(r"\s{2,}", line.strip())[0].split(",") if n.strip()}
    actual: dict[str, set[str]] = {}
    for name in modules("lbi"):
        parts = name.split(".")[1:]
        if parts and parts[-1] not in ("__main__",):
            if (ROOT / "lbi" / Path(*parts)).is_dir():
                continue  # a package: its line lists its modules
            actual.setdefault(".".join(parts[:-1]), set()).add(parts[-1])
    assert actual == listed


def _graph(top: str) -> dict[str, set[str]]:
    mods = modules(top)
    return {name: {m for m in imports(name, path) if m in mods and m != name} for name, path in mods.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle of ``graph`` (module -> the modules it imports), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (found := visit(nxt, [*trail, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_imports_have_no_cycles():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check itself
    assert cycle({"a": {"b"}, "b": set()}) is None
    for top in PACKAGES:
        # a package's __init__ importing its own modules is not a cycle of layers: those edges are left out
        graph = {n: {m for m in deps if not m.startswith(n + ".")} for n, deps in _graph(top).items()}
        assert cycle(graph) is None, f"import cycle: {' -> '.join(cycle(graph) or [])}"


def test_layers_depend_one_way():
    lbi_modules = modules("lbi")
    for name, path in lbi_modules.items():
        found = imports(name, path)
        if name.startswith("lbi.model"):
            assert not any(m.startswith("lbi.data") for m in found), f"{name} imports the data package"
        if name not in ("lbi.app", "lbi.cli"):
            assert not any(m == "lbi.app" or m.startswith("gradio") for m in found), f"{name} imports the app"
        assert not any(m.split(".")[0] in ("train", "tests") for m in found), f"{name} imports {found}"
