"""Logging with categories and a DB sink, health, alerts, system load."""
