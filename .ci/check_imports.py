"""Import rules CI enforces: no import loop between project modules, no import between sibling domains, none upward.

Upward means core importing a domain or web, or a domain importing web (the `ALLOWED` table below).

Every import counts, also one written inside a function (that is how loops hide). An import inside a function
is itself a problem unless its line says why it is there: `# deferred: <reason>` (a heavy or optional
third-party import such as alembic, gunicorn or aiosmtpd, or a cycle with a third-party module).

A small script over `ast` rather than import-linter: we want the checks to see function-level imports and a
report naming each loop's edges with file and line, and import-linter's contracts are about layers, not loops
between arbitrary modules.

    python .ci/check_imports.py [ROOT]   # exit 1 and name every problem with file and line (ROOT: the repository)
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGES = ("core", "firmware_bridge", "vending", "tracking", "procurement", "web")
ALLOWED = {  # package -> project packages it may import (ARCHITECTURE.md)
    "core": {"core"},
    "firmware_bridge": {"core", "firmware_bridge"},
    "vending": {"core", "firmware_bridge", "vending"},
    "tracking": {"core", "firmware_bridge", "tracking"},
    "procurement": {"core", "procurement"},
    "web": set(PACKAGES),
}

Edge = tuple[str, str, int]  # (target module, file, line)
DEFERRED = "# deferred:"  # the comment that lets an import stay inside a function


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(root: Path, path: Path, known: set[str]) -> list[Edge]:
    """Every project module `path` imports, at module level or inside a function."""
    module = module_name(root, path)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[Edge] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _absolute(module, path.name == "__init__.py", node)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module and not module.startswith(target + "."):
                found.append((target, str(path.relative_to(root)), node.lineno))
    return found


def undeclared_deferred(root: Path, path: Path) -> list[str]:
    """Imports inside a function (or lambda) whose lines carry no `# deferred: <reason>` comment."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                said = any(DEFERRED in line for line in lines[child.lineno - 1 : child.end_lineno])
                if in_function and not said:
                    found.append(
                        f"{path.relative_to(root)}:{child.lineno}: import inside a function; move it to the top of "
                        f"the module, or if it must wait say why on its line: `{DEFERRED} <reason>`"
                    )
                continue
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(ast.parse(source, str(path)), False)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the groups of two or more modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(graph[start])))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while not group or group[-1] != node:
                    group.append(stack.pop())
                    on_stack.discard(group[-1])
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def check(root: Path) -> list[str]:
    files = [p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))]
    known = {module_name(root, p) for p in files}
    edges = {module_name(root, p): imports_of(root, p, known) for p in files}
    problems: list[str] = [problem for p in files for problem in undeclared_deferred(root, p)]
    for module, found in edges.items():
        package = module.split(".")[0]
        for target, file, line in found:
            if target.split(".")[0] not in ALLOWED[package]:
                problems.append(f"{file}:{line}: {package} may not import {target} (ARCHITECTURE.md, packages)")
    graph: dict[str, set[str]] = defaultdict(set)
    for module, found in edges.items():
        graph[module].update(target for target, _, _ in found)
    for group in strongly_connected(graph):
        members = set(group)
        lines = sorted(
            {
                f"    {file}:{line}: {module} -> {target}"
                for module in group
                for target, file, line in edges[module]
                if target in members
            }
        )
        problems.append(f"import loop between {', '.join(group)}:\n" + "\n".join(lines))
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    problems = check(root)
    for problem in problems:
        print(problem)
    print(f"import check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
