"""Which pip extra of sam-trt provides a missing optional module, read from the project's own extras."""

from __future__ import annotations

import re
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

PROJECT = "sam-trt"
# Import names that differ from their distribution's name (all others: the name with "-" / "." as "_").
DISTRIBUTIONS = {"skimage": "scikit-image", "modelopt": "nvidia-modelopt", "cuda": "cuda-python",
                 "mobile_sam": "mobilesam-mirror"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([^\]]*)\])?")


def missing_module_hint(error: ModuleNotFoundError, verb: str | None = None) -> str | None:
    """One line naming the distribution behind `error` and the extra that installs it, e.g. "this needs
    matplotlib (not installed); install the bench extra: pip install 'sam-trt[bench]'"; None when no extra
    provides the module (a bug, not a missing extra). `verb`: prefer the extra of that name when it has it."""
    module = (error.name or "").split(".")[0]
    if not module:
        return None
    dist = DISTRIBUTIONS.get(module, module)
    extra = extra_for(dist, prefer=verb)
    if extra is None:
        return None
    if error.name != module and find_spec(module) is not None:  # the package is there, a part of it is not
        return f"{dist} is installed but has no {error.name}; upgrade it: pip install -U '{PROJECT}[{extra}]'"
    return f"this needs {dist} (not installed); install the {extra} extra: pip install '{PROJECT}[{extra}]'"


def extra_for(dist: str, prefer: str | None = None) -> str | None:
    """The extra that installs distribution `dist`: `prefer` if it does (directly or through another extra),
    else the first extra, in the project's order, that lists it; "test" only as a last resort."""
    extras = project_extras()
    key = _normal(dist)
    if prefer in extras and key in _closure(prefer, extras):
        return prefer
    listing = [name for name, reqs in extras.items() if key in reqs]
    return next((name for name in listing if name != "test"), listing[0] if listing else None)


def project_extras() -> dict[str, set[str]]:
    """{extra: normalised requirement names}, a requirement "sam-trt[a,b]" kept as "sam-trt[a,b]"."""
    extras: dict[str, set[str]] = {}
    for requirement, extra in _requirements():
        found = _NAME.match(requirement)
        if found:
            name = _normal(found.group(1))
            if name == _normal(PROJECT) and found.group(2):
                name = f"{name}[{found.group(2)}]"
            extras.setdefault(extra, set()).add(name)
    return extras


def _closure(extra: str, extras: dict[str, set[str]]) -> set[str]:
    """The requirements of `extra` with those of the sam-trt[...] extras it names, recursively."""
    seen, todo, names = set(), [extra], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in extras.get(current, ()):
            if name.startswith(_normal(PROJECT) + "["):
                todo += [e.strip() for e in name[name.index("[") + 1:-1].split(",")]
            else:
                names.add(name)
    return names


def _requirements() -> list[tuple[str, str]]:
    """(requirement, extra) pairs: pyproject.toml beside the package in a source checkout or editable install
    (installed metadata can lag behind it there), else the installed distribution's metadata."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        import tomllib

        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        if project["name"] == PROJECT:
            return [(req, extra) for extra, reqs in project["optional-dependencies"].items() for req in reqs]
    except (ImportError, OSError, KeyError, ValueError):
        pass
    try:
        requires = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        return []
    pairs = []
    for line in requires:
        marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", line)
        if marker:
            pairs.append((line.split(";")[0], marker.group(1)))
    return pairs


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
