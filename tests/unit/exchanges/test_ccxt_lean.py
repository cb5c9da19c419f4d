"""ccxt loaded lean (cts_desktop/exchanges/ccxt_lean.py): the app's two venues without the other hundred exchanges,
and the whole package the moment anything else is asked of it. Each case runs in a fresh interpreter (this test
process may have imported ccxt already)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(120)


def run_fresh(code: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=110,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_two_venues_load_without_the_other_exchanges() -> None:
    found = run_fresh("""
        import json, sys, resource
        from cts_desktop.exchanges import ccxt_lean
        rest = ccxt_lean.load("ccxt.async_support")
        pro = ccxt_lean.load("ccxt.pro")
        import ccxt
        clients = [rest.bybit(), rest.bingx(), pro.bybit(), pro.bingx()]
        from ccxt.base import errors
        print(json.dumps({
            "installed": ccxt_lean.installed(),
            "modules": sorted(m for m in sys.modules if m.startswith("ccxt")),
            "pro_subclasses_rest": issubclass(pro.bybit, rest.bybit) and issubclass(pro.bingx, rest.bingx),
            "ids": [c.id for c in clients],
            "watch": bool(clients[2].has.get("watchOrders")) and bool(clients[3].has.get("watchOrders")),
            "errors_same": ccxt.OrderNotFound is errors.OrderNotFound and rest.NetworkError is errors.NetworkError,
            "version": ccxt.__version__,
        }))
    """)
    assert found["installed"] is True
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "ccxt.async_support.bybit" in modules and "ccxt.pro.bingx" in modules
    others = [m for m in modules if m.rsplit(".", 1)[-1] in ("binance", "okx", "kraken", "bitget", "gate")]
    assert others == [], f"exchanges the app does not trade were imported: {others}"
    assert len(modules) < 60, f"{len(modules)} ccxt modules imported for two venues"
    assert found["pro_subclasses_rest"] is True
    assert found["ids"] == ["bybit", "bingx", "bybit", "bingx"]
    assert found["watch"] is True
    assert found["errors_same"] is True
    assert isinstance(found["version"], str) and found["version"].count(".") == 2


def test_anything_else_loads_the_whole_package() -> None:
    found = run_fresh("""
        import json, sys
        from cts_desktop.exchanges import ccxt_lean
        rest = ccxt_lean.load("ccxt.async_support")
        bybit = rest.bybit
        names = list(rest.exchanges)
        print(json.dumps({
            "count": len(names), "has_binance": "binance" in names,
            "binance": rest.binance().id, "same_bybit": rest.bybit is bybit,
            "modules": len([m for m in sys.modules if m.startswith("ccxt.async_support.")]),
        }))
    """)
    assert isinstance(found["count"], int) and found["count"] > 50
    assert found["has_binance"] is True
    assert found["binance"] == "binance"
    assert found["same_bybit"] is True  # the class bound before the whole load stays the one in use
    assert isinstance(found["modules"], int) and found["modules"] > 50


def test_a_ccxt_imported_before_is_left_as_it_is() -> None:
    found = run_fresh("""
        import json
        import ccxt.async_support as real
        from cts_desktop.exchanges import ccxt_lean
        loaded = ccxt_lean.load("ccxt.async_support")
        print(json.dumps({"installed": ccxt_lean.installed(), "same": loaded is real,
                          "bybit": loaded.bybit().id}))
    """)
    assert found == {"installed": False, "same": True, "bybit": "bybit"}
