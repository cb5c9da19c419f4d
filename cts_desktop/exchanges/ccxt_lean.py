"""ccxt without a hundred exchanges the app never talks to.

``import ccxt`` (and ``ccxt.async_support``, ``ccxt.pro``) executes a package ``__init__`` that imports every
exchange class ccxt ships — three times over, ~330 modules and ~80 MB of a process that trades on two venues.
:func:`install` puts lazy stand-ins for those three packages in ``sys.modules`` before anything imports them:

* a stand-in is the real package's module object (same spec, ``__path__``, loader), not yet executed;
* an exchange class (``ccxt.async_support.bybit``) is imported on first access, from its own module only, and kept
  as the package attribute (as the real ``__init__`` binds it — ``ccxt.pro.bybit`` subclasses it so);
* the names ccxt's own modules take from the packages (the error classes, ``Exchange``, ``Precise``, the
  precision helpers) resolve from ``ccxt.base`` without loading any exchange;
* anything else (``ccxt.async_support.exchanges``, another package attribute) runs the real ``__init__`` in the
  stand-in once: from then on it is the whole package, as if nothing had been done.

Installed once per process by the exchange layer's first ccxt import (:func:`load`); where ccxt is already imported
or its files cannot be found, nothing is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
from types import ModuleType
from typing import Any

log = logging.getLogger("cts.exchanges")

PACKAGES = ("ccxt", "ccxt.async_support", "ccxt.pro")
# where the packages' cheap names live (what ccxt's own modules import from the package)
_CHEAP_SOURCES = ("ccxt.base.errors", "ccxt.base.decimal_to_precision", "ccxt.base.precise")
_EXCHANGE_BASE = {"ccxt": "ccxt.base.exchange", "ccxt.async_support": "ccxt.async_support.base.exchange",
                  "ccxt.pro": "ccxt.async_support.base.exchange"}

_lock = threading.RLock()
_installed = False


def installed() -> bool:
    """True when the lazy stand-ins are in place (this process imported ccxt through :func:`load`)."""
    return _installed


def load(name: str = "ccxt.async_support") -> Any:
    """``importlib.import_module(name)`` after :func:`install` (blocking: from a worker thread on the loop)."""
    install()
    return importlib.import_module(name)


def install() -> bool:
    """Put the lazy stand-ins in ``sys.modules`` (once; nothing when ccxt is imported already). True when they
    are in place."""
    global _installed
    with _lock:
        if _installed:
            return True
        if any(name in sys.modules for name in PACKAGES):
            return False
        try:
            modules = _stand_ins()
        except (ImportError, AttributeError, OSError, ValueError) as error:  # another ccxt layout: the real thing
            log.debug("ccxt imported whole (%s: %s)", type(error).__name__, error)
            for name in PACKAGES:
                sys.modules.pop(name, None)
            return False
        for name, module in modules.items():
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(modules[parent], child, module)
        _installed = True
        return True


def _stand_ins() -> dict[str, ModuleType]:
    modules: dict[str, ModuleType] = {}
    for name in PACKAGES:  # parents first: a subpackage's spec is found on its parent's __path__
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            raise ImportError(f"{name} is not a package here")
        module = importlib.util.module_from_spec(spec)
        state = _Lazy(name, module)
        module.__getattr__ = state.attribute  # type: ignore[method-assign]  # PEP 562
        sys.modules[name] = module
        modules[name] = module
    return modules


class _Lazy:
    """The attribute lookup of one stand-in package (module ``__getattr__``: only for names not set yet)."""

    def __init__(self, name: str, module: ModuleType) -> None:
        self.name = name
        self.module = module
        self.whole = False

    def attribute(self, attr: str) -> Any:
        if attr.startswith("__") and attr not in ("__version__", "__all__"):
            raise AttributeError(attr)
        with _lock:
            if attr in self.module.__dict__:  # bound meanwhile (another thread)
                return self.module.__dict__[attr]
            value = self._cheap(attr)
            if value is None:
                value = self._exchange(attr)
            if value is None:
                return self._from_whole(attr)
            setattr(self.module, attr, value)
            return value

    def _cheap(self, attr: str) -> Any:
        if attr in ("Exchange", "__version__"):
            return getattr(importlib.import_module(_EXCHANGE_BASE[self.name]), attr)
        if attr.startswith("_"):
            return None
        for source in _CHEAP_SOURCES:
            module = importlib.import_module(source)
            if attr in getattr(module, "__all__", ()) or hasattr(module, attr):
                return getattr(module, attr)
        return None

    def _exchange(self, attr: str) -> Any:
        """The exchange class ``attr`` from its own module (None when the package has no such module)."""
        if not attr.isidentifier() or attr in ("base", "static_dependencies", "abstract"):
            return None
        spec = importlib.util.find_spec(f"{self.name}.{attr}")
        if spec is None or spec.submodule_search_locations is not None:
            return None
        module = importlib.import_module(f"{self.name}.{attr}")
        return getattr(module, attr, None)

    def _from_whole(self, attr: str) -> Any:
        """The real ``__init__`` run in the stand-in (once), then the attribute as the real package has it."""
        if not self.whole:
            self.whole = True
            log.debug("%s loaded whole (for %r)", self.name, attr)
            spec = self.module.__spec__
            assert spec is not None and spec.loader is not None
            spec.loader.exec_module(self.module)
        try:
            return self.module.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.name!r} has no attribute {attr!r}") from None
