"""The waiting helpers' failure: a message that quotes state shows it as it was at the timeout (a message built
when the wait began showed the decisions before the signal, and an entry taken instead of refused read as "no
decision at all")."""

from __future__ import annotations

import pytest

from tests.helpers.waiting import until, wait_until

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_a_timeout_describes_the_state_at_the_timeout() -> None:
    looks: list[int] = []

    def never() -> bool:
        looks.append(1)
        return False

    with pytest.raises(AssertionError) as failed:
        await until(never, 0.05, lambda: f"a decision ({len(looks)} looks)", interval=0.01)
    assert str(failed.value) == f"timed out after 0.05 s waiting for a decision ({len(looks)} looks)"
    assert len(looks) > 1
    with pytest.raises(AssertionError, match=r"^timed out after 0 s waiting for a plain text$"):
        await until(lambda: False, 0, "a plain text")


def test_the_synchronous_wait_describes_it_at_the_timeout_too() -> None:
    looks: list[int] = []
    with pytest.raises(AssertionError, match=r"waiting for 2 looks$"):
        wait_until(lambda: looks.append(1), 0.0, lambda: f"{len(looks) + 1} looks")
