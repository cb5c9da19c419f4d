"""Entry script of the frozen app (PyInstaller needs a file; the logic is cts_desktop.__main__.main)."""

import multiprocessing
import sys

from cts_desktop.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a worker process of a frozen app must not start another app
    sys.exit(main())
