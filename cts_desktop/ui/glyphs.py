"""Text the font can draw: a character the widget's font has no glyph for (ccxt calls Binance's USDⓈ-M market with a
circled S, which most Linux fonts lack and Qt draws as an empty box) is shown in its plain compatibility form (NFKC:
Ⓢ → S), or left out when even that cannot be drawn."""

from __future__ import annotations

import unicodedata

from PySide6.QtGui import QFont, QFontMetrics


def drawable(text: str, font: QFont) -> str:
    metrics = QFontMetrics(font)
    out = []
    for char in text:
        if char.isspace() or metrics.inFontUcs4(ord(char)):
            out.append(char)
            continue
        plain = unicodedata.normalize("NFKC", char)
        out.append(plain if plain != char and all(metrics.inFontUcs4(ord(c)) for c in plain) else "")
    return "".join(out)
