"""Size of a one-folder bundle and its biggest contributors, checked against the budget (bundle_config).

    python packaging/bundle_size.py dist/cts-desktop [--top N] [--strict]

Prints the total and the largest top-level parts (a package folder or a shared library) of ``_internal``; exits 1
only with ``--strict`` when the total is over the budget, so a CI build reports an overrun without failing on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_config import SIZE_BUDGET_MB

MB = 1024 * 1024


def tree_size(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def contributors(bundle: Path) -> list[tuple[str, int]]:
    """(name, bytes) of every entry of the bundle's content folder, largest first (``_internal`` since 6.0)."""
    inner = bundle / "_internal"
    root = inner if inner.is_dir() else bundle
    parts = [(p.name, tree_size(p)) for p in root.iterdir()]
    if root is inner:
        parts += [(p.name, tree_size(p)) for p in bundle.iterdir() if p.name != "_internal"]
    return sorted(parts, key=lambda item: item[1], reverse=True)


def report(bundle: Path, top: int = 12) -> tuple[float, list[tuple[str, int]]]:
    total = tree_size(bundle) / MB
    return total, contributors(bundle)[:top]


def packed_libraries(bundle: Path) -> list[tuple[str, int, int]]:
    """(path, bytes on disk, bytes unpacked) of the zlib-packed libraries (``*.so.zlib``: unpacked into memory at
    run time by hooks/rthook_llvmlite_packed.py), so a report never hides what a start really loads."""
    import zlib

    out = []
    for path in sorted(bundle.rglob("*.so.zlib")):
        inflater, unpacked = zlib.decompressobj(), 0
        with path.open("rb") as packed:
            while chunk := packed.read(1 << 22):
                unpacked += len(inflater.decompress(chunk))
        unpacked += len(inflater.flush())
        out.append((path.relative_to(bundle).as_posix(), path.stat().st_size, unpacked))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the budget")
    args = parser.parse_args(argv)
    total, parts = report(args.bundle, args.top)
    verdict = "within" if total <= SIZE_BUDGET_MB else "OVER"
    print(f"bundle {args.bundle}: {total:.1f} MB ({verdict} the {SIZE_BUDGET_MB:.0f} MB budget)")
    for name, size in parts:
        print(f"  {size / MB:8.1f} MB  {name}")
    for name, on_disk, unpacked in packed_libraries(args.bundle):
        print(f"  packed: {name} {on_disk / MB:.1f} MB on disk, {unpacked / MB:.1f} MB unpacked in memory at run time")
    return 1 if args.strict and total > SIZE_BUDGET_MB else 0


if __name__ == "__main__":
    raise SystemExit(main())
