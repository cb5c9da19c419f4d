"""PyInstaller runtime hook: stand-ins for the ccxt exchange modules this bundle leaves out.

Why: ``ccxt/__init__``, ``ccxt/async_support/__init__`` and ``ccxt/pro/__init__`` each import every exchange
module (100+ of them, ~60 MB with their ``abstract`` API tables). The spec excludes all but Bybit and BingX
(``packaging/bundle_config.py``), so those package imports would fail. This finder sits at the *end* of
``sys.meta_path``: a module the bundle does contain is always loaded normally; only a missing exchange module of
``ccxt``, ``ccxt.async_support`` or ``ccxt.pro`` is replaced by a tiny module whose class refuses to be built with a
plain message. Any other missing module still raises ImportError as usual.
"""

import importlib.abc
import importlib.machinery
import sys

_PARENTS = ("ccxt", "ccxt.async_support", "ccxt.pro")
_NOT_EXCHANGES = frozenset(
    {"base", "abstract", "static_dependencies", "test", "prediction", "protobuf", "async_support", "pro"}
)


class _MissingExchange:
    """Placeholder for an exchange class that is not part of this bundle."""

    exchange_id = ""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            f"the exchange '{self.exchange_id}' is not included in this build of CTS Desktop "
            "(the desktop bundles ship Bybit and BingX; run from source for other ccxt exchanges)"
        )


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__.rsplit(".", 1)[1]
        cls = type(name, (_MissingExchange,), {"exchange_id": name, "__module__": module.__name__})
        setattr(module, name, cls)
        module.CTS_NOT_BUNDLED = True


class _MissingExchangeFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        parent, _, name = fullname.rpartition(".")
        if parent not in _PARENTS or name in _NOT_EXCHANGES or not name.isidentifier() or name.startswith("_"):
            return None
        return importlib.machinery.ModuleSpec(fullname, _StubLoader())


sys.meta_path.append(_MissingExchangeFinder())
