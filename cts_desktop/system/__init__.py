"""The process's place on its computer: one instance per data folder (a lock and a hand-over channel), the marker
that tells a crash from a clean exit, the start-at-login entry per OS. Standard library only (and the paths)."""
