"""Pure trading domain: settings schema, indications, indicators, exit simulator, set book, sizing (numpy, no I/O)."""
