"""Business rejections of the simulated venue; each dialect maps a kind to its real error code."""

from __future__ import annotations

from enum import Enum


class SimErrorKind(Enum):
    BAD_PARAM = "bad_param"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_FINISHED = "order_finished"
    QTY_TOO_SMALL = "qty_too_small"
    REDUCE_ONLY_REJECTED = "reduce_only_rejected"
    LEVERAGE_NOT_MODIFIED = "leverage_not_modified"
    LEVERAGE_TOO_HIGH = "leverage_too_high"
    POSITION_MODE_NOT_MODIFIED = "position_mode_not_modified"
    MARGIN_MODE_NOT_MODIFIED = "margin_mode_not_modified"
    POSITION_EXISTS = "position_exists"
    MARGIN_POSITION_EXISTS = "margin_position_exists"  # a margin-mode switch refused: a position or order is open
    UNKNOWN_SYMBOL = "unknown_symbol"


class SimError(Exception):
    """A business rejection; each dialect maps ``kind`` to its real error code."""

    def __init__(self, kind: SimErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
