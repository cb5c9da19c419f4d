"""Whether the engine may enter now at all, before any set or risk check: paused, the layer's engine switched off
in the System settings, or the trade mode leaving that layer out. One answer for the pipeline's indications and
for the order loop's Real signals, so the reason a trader reads is the same wherever an entry stops."""

from __future__ import annotations

from collections.abc import Mapping


def entry_refusal(values: Mapping[str, object], paused: bool, preset: bool) -> str | None:
    """Why no Main (``preset`` False) or Preset entry may be made now; None when it may."""
    if paused:
        return "the engine is paused: no new entries"
    layer = "Preset" if preset else "Main"
    if not bool(values["system.preset_engine_enabled" if preset else "system.main_engine_enabled"]):
        return f"the {layer} engine is switched off (System settings)"
    trade_mode = str(values["overall.trade_mode"])  # which pipelines may place orders
    if trade_mode not in ("both", "preset" if preset else "main"):
        return f"overall.trade_mode is {trade_mode}: no {layer} entries"
    return None
