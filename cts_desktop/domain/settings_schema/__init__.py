"""Definitions and checks behind ``cts_desktop.domain.settings`` (import from there, not from here)."""
