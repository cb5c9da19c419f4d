"""The connection's margin type (cross / isolated) on the exchange, applied per symbol before its first order.

Before an entry the symbol's margin mode is read from the exchange; when it differs from the connection's margin
type it is set — unless a position of the symbol (of any symbol where the mode is account-wide, a Bybit unified
account) is open: exchanges refuse the switch then, so the entry is refused with a message that says why, and
the switch is tried again before the next entry (once the symbol is flat). A changed margin type is applied at
once to every flat symbol of a running engine (``reapply``). Paper trading has no exchange account: nothing to set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cts_desktop.exchanges.errors import ExchangeError
from cts_desktop.exchanges.models import Position

log = logging.getLogger("cts.engine.margin")

# the exchanges' answers to a margin-mode switch they refuse because the symbol (BingX) or the account (Bybit) has
# an open order or position: BingX 101212 "Please check if you have pending orders" (its USDT-M error catalogue),
# Bybit 3400045 / 110073 "Set margin mode failed" (v5 set-margin-mode; 3400045 carries the reasons)
SWITCH_REFUSED = frozenset({"101212", "3400045", "110073"})


class MarginAccount(Protocol):
    """What the exchange adapter offers for margin modes."""

    async def margin_mode(self, symbol: str) -> str: ...

    async def set_margin_mode(self, symbol: str, mode: str) -> None: ...

    async def positions(self, symbols: list[str] | None = None) -> list[Position]: ...


class MarginModes:
    def __init__(self, connection_id: str, account: MarginAccount, wanted: Callable[[], str],
                 *, account_wide: bool) -> None:
        self.connection_id = connection_id
        self.account = account
        self.wanted = wanted  # the connection's margin type, read at each use (an edit reaches it at once)
        self.account_wide = account_wide
        self.applied: dict[str, str] = {}  # symbol → the mode the exchange has (read or set by us)
        self._refused: dict[str, str] = {}  # symbol → the mode last refused (logged once per change)

    async def ensure(self, symbol: str) -> str | None:
        """None when ``symbol`` trades in the connection's margin type now; else why an entry must wait."""
        wanted = self.wanted()
        if self.applied.get(symbol) == wanted:
            return None
        try:
            current = await self.account.margin_mode(symbol)
            if current == wanted:
                self._note_applied(symbol, wanted)
                return None
            open_positions = await self.account.positions(None if self.account_wide else [symbol])
            if open_positions:
                return self._refuse(symbol, wanted, current, open_positions)
            await self.account.set_margin_mode(symbol, wanted)
        except ExchangeError as error:
            if error.code in SWITCH_REFUSED:
                return self._refuse_by_exchange(symbol, wanted, error)
            reason = f"setting {wanted} margin on {symbol} failed: {error}"
            log.warning("%s; the entry waits", reason, extra={"connection_id": self.connection_id, "symbol": symbol})
            return reason
        log.info("%s margin set on %s%s", wanted, symbol, " (the whole account)" if self.account_wide else "",
                 extra={"connection_id": self.connection_id, "symbol": symbol})
        self._note_applied(symbol, wanted)
        return None

    async def reapply(self, symbols: list[str]) -> None:
        """After the margin type changed: apply it to each symbol that is flat now (the others refuse, logged, and
        are tried again before their next entry)."""
        for symbol in symbols:
            await self.ensure(symbol)
            if self.account_wide:
                return  # one switch covers the account

    def _note_applied(self, symbol: str, mode: str) -> None:
        if self.account_wide:
            self.applied.clear()  # one mode for all: every symbol has it now
        self.applied[symbol] = mode
        self._refused.pop(symbol, None)

    def _refuse_by_exchange(self, symbol: str, wanted: str, error: ExchangeError) -> str:
        reason = (f"margin type {wanted} cannot be applied to {symbol} while an order or a position of it is open: "
                  f"the exchange refused the switch (code {error.code}: {error}); entries on {symbol} wait until it "
                  f"has no open order or position")
        if self._refused.get(symbol) != wanted:
            self._refused[symbol] = wanted
            log.warning(reason, extra={"connection_id": self.connection_id, "symbol": symbol})
        return reason

    def _refuse(self, symbol: str, wanted: str, current: str, positions: list[Position]) -> str:
        held = ", ".join(sorted({f"{p.symbol} {p.side.value}" for p in positions}))
        reason = (f"margin type {wanted} cannot be applied to {symbol} while a position is open ({held}); the "
                  f"exchange keeps {current} margin, entries on {symbol} wait until it is flat")
        if self._refused.get(symbol) != wanted:
            self._refused[symbol] = wanted
            log.warning(reason, extra={"connection_id": self.connection_id, "symbol": symbol})
        return reason
