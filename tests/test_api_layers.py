"""Routes take narrow roles (deps.py), never the runtime: only create_app sees it.

Scans the source of every module of starling.api; see docs/subsystems/api.md.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from pathlib import Path

import starling.api

WIRING = "starling.api.app"  # builds the app from a runtime: the one module that sees it
RUNTIME_NAMES = {"runtime", "Runtime", "RuntimeDep", "open_runtime"}


def api_modules() -> list[str]:
    return [info.name for info in pkgutil.iter_modules(starling.api.__path__, "starling.api.")]


def source_of(module: str) -> str:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).read_text()


def runtime_uses(source: str) -> list[str]:
    """Imports of starling.runtime and names, attributes or parameters of the runtime."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("starling.runtime")]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found += [n for n in [node.module, *names] if n.startswith("starling.runtime")]
        name = (
            getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "arg", None)
        )
        if name in RUNTIME_NAMES:
            found.append(name)
    return found


def test_no_api_module_but_the_wiring_sees_the_runtime() -> None:
    modules = [m for m in api_modules() if m != WIRING]
    assert {"starling.api.deps", "starling.api.routes_statuses"} <= set(modules)
    assert {m: runtime_uses(source_of(m)) for m in modules if runtime_uses(source_of(m))} == {}


def test_the_scan_finds_the_runtime() -> None:
    assert runtime_uses(source_of(WIRING))
    assert runtime_uses("from starling import runtime")
    assert runtime_uses("import starling.runtime as r")
    assert runtime_uses("def show(request): return request.app.state.runtime.store")
    assert runtime_uses("def show(runtime): pass")
    assert not runtime_uses("def show(store: StoreDep): return store.get_posts([1])")
