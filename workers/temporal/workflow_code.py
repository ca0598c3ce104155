"""A worker runs the workflow code it started with: each workflow module is compiled once per process.

The workflow sandbox imports a workflow's modules afresh for every workflow it starts, so that module state is
never shared between runs. Left to Python's import system, each of those imports finds the module's file again,
reads its bytecode (or source) from disk and unmarshals it: four times per revenue journey. Two things follow:

* a worker whose files change under it (a package installed over a running worker, a half-saved edit) starts its
  next workflows on code other than the definitions it registered and the Worker Deployment version it reports,
  which is how a history stops replaying;
* every start pays the file lookups, the read and the unmarshal (about 1 ms of the 5-6 ms a sandboxed instance
  costs: bench/README.md, the eighth round).

:func:`pin_workflow_code` puts an import finder in front of Python's for the named packages. When it is installed
it compiles every module of those packages once (from their bytecode when there is some, else from source) and
keeps the code objects; every later import of one of those modules, in the sandbox or not, executes the kept
code object in a new module. What the sandbox guarantees does not change: each workflow still runs its modules'
bodies afresh in its own module namespace under the sandbox's restrictions. Only where the code comes from does.

A module added to a pinned package after the worker started (none is, in a deployed install) is compiled on its
first import and kept from then on. Tracebacks read source lines from disk, as always: after a file changed under a
running worker they may show the new lines next to the old code's line numbers; restart the worker after a deploy.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import CodeType, ModuleType

_SOURCE = importlib.machinery.SourceFileLoader


class _PinnedLoader(_SOURCE):
    """A source loader that hands out the code object its finder kept for the file."""

    def __init__(self, fullname: str, path: str, codes: dict[str, CodeType]) -> None:
        super().__init__(fullname, path)
        self._codes = codes

    def get_code(self, fullname: str) -> CodeType:
        code = self._codes.get(self.path)
        if code is None:
            compiled = super().get_code(fullname)
            if compiled is None:  # a source loader returns code or raises; this keeps the type honest
                raise ImportError(f"no code for {fullname}", name=fullname)
            code = self._codes.setdefault(self.path, compiled)
        return code


class PinnedWorkflowCode(importlib.abc.MetaPathFinder):
    """The finder: the modules of ``packages`` by their kept code objects (one per file, for the process's life)."""

    def __init__(self) -> None:
        self.packages: set[str] = set()
        self._codes: dict[str, CodeType] = {}
        self._places: dict[str, tuple[str, list[str] | None]] = {}  # module name -> (file, package directories)
        self._lock = threading.Lock()

    def pinned(self, name: str) -> bool:
        return name.partition(".")[0] in self.packages

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.pinned(fullname):
            return None
        place = self._places.get(fullname)
        if place is None:
            spec = self._find_elsewhere(fullname, path, target)
            # A source module, whatever loader found it (a path hook may put its own subclass in, as beartype's,
            # which a dependency installs, does): its code is pinned. Anything else (a namespace package, an
            # extension module) is left as Python finds it.
            if spec is None or not isinstance(spec.loader, _SOURCE) or spec.origin is None:
                return spec
            locations = spec.submodule_search_locations
            place = (spec.origin, list(locations) if locations is not None else None)
            self._places[fullname] = place
        origin, locations = place
        return importlib.util.spec_from_file_location(
            fullname,
            origin,
            loader=_PinnedLoader(fullname, origin, self._codes),
            submodule_search_locations=list(locations) if locations is not None else None,
        )

    def _find_elsewhere(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec the import system would find without this finder: the other finders on ``sys.meta_path``, in
        their order (an editable install's own finder as well as the path finder)."""
        for finder in sys.meta_path:
            if isinstance(finder, PinnedWorkflowCode):
                continue
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if isinstance(spec, importlib.machinery.ModuleSpec):
                return spec
        return None

    def compile_package(self, package: str) -> int:
        """Keep the code of every module of ``package`` (found as the import system finds it, none executed)."""
        spec = self._find_elsewhere(package, None)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"{package} is not a package on the import path", name=package)
        kept = 0
        for root in spec.submodule_search_locations:
            for file in sorted(Path(root).rglob("*.py")):
                relative = file.relative_to(root).with_suffix("")
                parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
                if not all(part.isidentifier() for part in parts):
                    continue  # not importable under this package (a stray script)
                name = ".".join((package, *parts))
                # Where the import system would look: the parent package's directory (None: the top package)
                parent = file.parent.parent if relative.name == "__init__" else file.parent
                found = self.find_spec(name, [str(parent)] if parts else None)
                if found is not None and isinstance(found.loader, _PinnedLoader):
                    found.loader.get_code(name)
                    kept += 1
        return kept

    def pin(self, packages: Iterable[str]) -> None:
        with self._lock:
            new = sorted(set(packages) - self.packages)
            self.packages.update(new)
            for package in new:
                self.compile_package(package)


_FINDER: PinnedWorkflowCode | None = None


def pin_workflow_code(packages: Iterable[str]) -> PinnedWorkflowCode:
    """Compile the modules of ``packages`` now and run those from then on (idempotent; one finder per process)."""
    global _FINDER
    finder = _FINDER
    if finder is None or finder not in sys.meta_path:
        finder = PinnedWorkflowCode()
        sys.meta_path.insert(0, finder)
        _FINDER = finder
    finder.pin(packages)
    return finder
