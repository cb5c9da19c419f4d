"""Trading runtime: event bus, coordinator, per-connection engines, order manager, supervisor."""
