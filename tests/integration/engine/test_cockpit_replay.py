"""The trader's cockpit on the live Replay connection (simulator in-process, real ccxt, real SQLite): the engine
says why it trades or not, and a position closed or an order cancelled by hand goes through the order manager —
one order on the exchange, the DB equal to the exchange afterwards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from cts_desktop.engine import manual
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType
from cts_desktop.storage.models import ConfigSet, Order, RealPosition
from tests.helpers.waiting import until
from tests.integration.engine.conftest import db_sides, exchange_sides
from tests.integration.engine.test_coordinator_replay import make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])
BTC = "BTC/USDT:USDT"


async def test_decisions_and_manual_close_and_cancel_on_the_live_replay(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        world.settings.set_many({"strategy.max_real_per_symbol_direction": 3, "strategy.sl_streak_count": 4,
                                 "strategy.daily_loss_limit_pct": 7.5})
        world.service.store.save(replace(world.service.get(world.config.id), position_mode="hedge"))
        await world.replay.start()
        server = world.replay.server
        assert server is not None
        outsider = world.replay.adapter()  # the same account, as another app on it would place an order
        price = server.market.price("BTC")
        await outsider.set_position_mode(True)
        theirs = await outsider.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, 0.01, "someone-else",
                                                         price=round(price * 0.5, 1), hedged=True))
        await outsider.close()
        await world.coordinator.start()
        await world.coordinator.wait_started(120)
        engine = world.coordinator.engines[world.config.id]
        assert engine.orders is not None

        # live: the account's fills, orders and positions come by the private stream, which the status says
        def account_stream() -> tuple[bool, str] | None:
            found = [s for s in engine.status().streams if s.name == "account"]
            return (found[0].streaming, found[0].detail) if found else None

        await until(lambda: (account_stream() or (False, ""))[0], 30, "the private stream connected")

        # why (no) trade: the newest decision is on the engine's status, the protections with their settings
        await until(lambda: engine.decisions.last is not None, 90, "a first entry decision")
        status = engine.status()
        assert status.last_decision is not None and status.last_decision.reason
        kill, drawdown, streak = status.protections
        assert kill.enabled and kill.threshold == "7.5 %" and not drawdown.enabled
        assert streak.enabled and streak.threshold == "4 stops → 60 min"

        # an entry of the engine's own names the set that took it (the journal shows it); entries go out
        # concurrently and each is recorded as taken when its order is answered, so compare once every position
        # in the DB has its answer (paused: no new entry meanwhile)
        await until(lambda: "taken" in engine.decisions.last_of_kind, 150, "an entry of the engine's own")
        engine.pause()

        def own_positions() -> list[tuple[str, str]]:
            with world.db.session() as s:
                rows = s.execute(select(RealPosition).where(RealPosition.set_id.is_not(None),
                                                       RealPosition.status != "failed")).scalars().all()
                sets = [s.get(ConfigSet, row.set_id) for row in rows]
                assert all(c is not None and c.symbol == r.symbol and c.direction == r.side
                           for c, r in zip(sets, rows, strict=True))
                return [(c.indication_type, c.direction) for c in sets if c is not None]

        def taken() -> list[tuple[str, str]]:
            return [(d.reason.split("(")[0], d.direction) for d in engine.decisions.by_kind.get("taken", ())]

        await until(lambda: len(taken()) >= len(own_positions()) > 0, 60, "every entry answered")
        assert set(own_positions()) <= set(taken()), (own_positions(), taken())
        await until(lambda: engine.private is not None and engine.private.received["trades"] > 0, 30,
                    "the entries' fills pushed by the stream")
        pushed = engine.private.received if engine.private is not None else {}
        assert account_stream() == (True, f"private stream: {pushed['trades']} fills, {pushed['orders']} order updates")

        server.market.clock.set_speed(0)  # and the market stands still: nothing closes on the exchange meanwhile
        account = list(server.market.keyring.keys.values())[-1].account
        opened = await engine.orders.open_position(EntrySignal(BTC, "long", server.market.price("BTC"), 0.05, 0.1,
                                                               label="test"))
        assert opened.accepted and opened.real_position_id is not None, opened
        before = {o.order_id for o in account.orders.values()}
        status_text = await manual.close_position(engine.orders, opened.real_position_id)
        assert status_text == "filled"
        sent = [o for o in account.orders.values() if o.order_id not in before]
        # one order reached the exchange: a sell on the long side of the hedge-mode position (which only reduces)
        assert len(sent) == 1 and sent[0].side == "Sell" and sent[0].position_idx == 1, sent
        await engine.orders.sync(engine.symbols)
        with world.db.session() as s:
            position = s.get(RealPosition, opened.real_position_id)
            assert position is not None and position.status == "closed" and position.close_reason == "manual"
            close = s.execute(select(Order).where(Order.real_position_id == position.id, Order.reduce_only)
                              ).scalar_one()
            assert close.client_order_id == sent[0].client_id and close.status == "filled"
        assert db_sides(world.db, world.config.id) == exchange_sides(server)

        # close a whole symbol: every open BTC position of the connection
        for direction in ("long", "short"):
            entry = await engine.orders.open_position(EntrySignal(BTC, direction, server.market.price("BTC"), 0.05,
                                                                  0.1, label="test"))
            assert entry.accepted, entry
        assert await manual.close_symbol(engine.orders, BTC) >= 2
        await engine.orders.sync(engine.symbols)
        assert db_sides(world.db, world.config.id) == exchange_sides(server) == {}
        with pytest.raises(manual.ManualActionError, match="no open position"):
            await manual.close_symbol(engine.orders, BTC)

        # the outsider's order was recorded as external at the start; cancelled by hand, on the exchange first
        with world.db.session() as s:
            external = s.execute(select(Order).where(Order.external)).scalar_one()
            assert external.status == "open"
        await manual.cancel_order(engine.orders, external.id)
        on_exchange = [o for o in account.orders.values() if o.order_id == theirs.id]
        assert len(on_exchange) == 1 and on_exchange[0].status.value.lower() in ("cancelled", "canceled")
        with world.db.session() as s:
            assert s.get(Order, external.id).status == "canceled"  # type: ignore[union-attr]
        with pytest.raises(manual.ManualActionError, match="nothing to cancel"):
            await manual.cancel_order(engine.orders, external.id)
