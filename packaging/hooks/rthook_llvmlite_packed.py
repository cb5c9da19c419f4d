"""PyInstaller runtime hook: llvmlite's LLVM library travels compressed and is unpacked into memory.

Why: ``libllvmlite.so`` is ~150 MB even stripped (LLVM with all of its ~20 code generators linked in statically),
more than half of the Linux bundle's 250 MB budget on its own; zlib brings it to ~52 MB. The spec
(``bundle_config.pack_selected``) ships it as ``libllvmlite.so.zlib``. At process start this hook begins to
decompress it (zlib-ng), in a background thread, into an anonymous in-memory file (``memfd_create``; the inflate
releases the GIL), so the work overlaps the start-up imports; when ``llvmlite.binding.ffi`` first loads its
library (numba's first import) it waits for that thread if need be and ``dlopen``s the in-memory file. Nothing is
written to disk and nothing is left behind. Where memfd cannot be used it falls back to a temporary file that is
deleted as soon as the library is loaded. The cost: ~0.5 s of one core per start and the library's ~150 MB held in
RAM (shared memory) instead of paged in from the bundle on demand.

Without the packed file (other OSes, or a build with ``CTS_BUNDLE_PACK_LLVMLITE=0``) the hook does nothing.
"""

import importlib.abc
import os
import sys

PACKED_NAME = "libllvmlite.so.zlib"
LIBRARY_NAME = "libllvmlite.so"
TEST_SYMBOL = "LLVMPY_GetVersionInfo"
# commands that never reach numba, and the helper processes of multiprocessing (PyInstaller starts them with these)
NO_PREFETCH_ARGS = frozenset({"--version", "-h", "--help", "--multiprocessing-fork", "-c"})
_CHUNK = 1 << 22


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _zlib():
    """zlib-ng when it is there (a dependency of ccxt: ~2x faster inflate than zlib, same format), else zlib."""
    try:
        from zlib_ng import zlib_ng

        return zlib_ng
    except ImportError:
        import zlib

        return zlib


def _inflate_into(fd, packed_path):
    zlib = _zlib()
    inflater = zlib.decompressobj()
    try:
        with open(packed_path, "rb") as source:
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
                _write_all(fd, inflater.decompress(chunk))
        _write_all(fd, inflater.flush())
    except zlib.error as exc:
        raise OSError(f"{packed_path} is damaged: {exc}") from exc
    if not inflater.eof:
        raise OSError(f"{packed_path} is truncated")


def unpack_to_memory(packed_path, name=LIBRARY_NAME):
    """An in-memory file (descriptor) holding the decompressed library; raises OSError where memfd is unavailable."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is None:
        raise OSError("memfd_create is not available")
    fd = memfd(name, os.MFD_CLOEXEC)
    try:
        _inflate_into(fd, packed_path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def load_packed(packed_path, name=LIBRARY_NAME, fallback_dir=None, memfd=None):
    """``ctypes.CDLL`` of the zlib-compressed shared library ``packed_path``.

    ``memfd``: the library already unpacked by :func:`unpack_to_memory` (this function owns the descriptor from
    then on). Otherwise it is unpacked now; where an in-memory file cannot be made or loaded, into a temporary file
    in ``fallback_dir`` that is removed right after loading.
    """
    import ctypes

    errors = []
    if memfd is None:
        try:
            memfd = unpack_to_memory(packed_path, name)
        except OSError as exc:
            errors.append(f"in memory: {exc}")
    if memfd is not None:
        try:
            library = ctypes.CDLL(f"/proc/self/fd/{memfd}")
        except OSError as exc:
            errors.append(f"in memory: {exc}")
            os.close(memfd)
        else:
            # The descriptor stays open for the life of the process: dlopen treats a path it has loaded before as
            # the same library, so the number must never name another in-memory file (and the path stays valid for
            # diagnostics, e.g. llvmlite's ffi.lib._name).
            library.memfd = memfd
            return library
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"{name}.", suffix=".so", dir=fallback_dir)
    try:
        try:
            _inflate_into(fd, packed_path)
        finally:
            os.close(fd)
        return ctypes.CDLL(path)
    except OSError as exc:
        errors.append(f"{path}: {exc}")
        raise OSError(f"could not load {name} from {packed_path}: {'; '.join(errors)}") from exc
    finally:
        os.unlink(path)


class Prefetch:
    """Unpacks the library into memory in a daemon thread started at process start; :meth:`take` waits for it."""

    def __init__(self, packed_path):
        import threading

        self.fd = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(packed_path,), name="llvmlite-unpack", daemon=True)
        self._thread.start()

    def _run(self, packed_path):
        try:
            self.fd = unpack_to_memory(packed_path)
        except Exception as exc:  # the loader then unpacks again itself (and reports what fails)
            self.error = exc

    def take(self):
        """The in-memory file's descriptor (the caller owns it from now on), or None when the thread failed."""
        self._thread.join()
        fd, self.fd = self.fd, None
        return fd


def _fallback_dir():
    cache = os.environ.get("NUMBA_CACHE_DIR")  # set by rthook_numba_cache: a user folder, not a noexec /tmp
    if cache:
        try:
            os.makedirs(cache, exist_ok=True)
            return cache
        except OSError:
            pass
    return None


def patch_ffi(module, packed_path, prefetch=None):
    """Make llvmlite's library wrapper (``llvmlite.binding.ffi._lib_wrapper``) load the packed library."""
    wrapper = getattr(module, "_lib_wrapper", None)
    if wrapper is None or not callable(getattr(wrapper, "_load_lib", None)):
        raise ImportError("llvmlite.binding.ffi has no _lib_wrapper._load_lib: this llvmlite is not supported by "
                          "packaging/hooks/rthook_llvmlite_packed.py (build with CTS_BUNDLE_PACK_LLVMLITE=0)")

    def _load_lib(self):
        memfd = prefetch.take() if prefetch is not None else None
        try:
            self._lib_handle = load_packed(packed_path, fallback_dir=_fallback_dir(), memfd=memfd)
            getattr(self._lib_handle, TEST_SYMBOL)()
        except (OSError, AttributeError) as exc:
            raise OSError(f"could not load llvmlite's LLVM library from {packed_path}: {exc}") from exc

    wrapper._load_lib = _load_lib


class _PatchingLoader:
    def __init__(self, loader, finder):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        patch_ffi(module, self._finder.packed_path, self._finder.prefetch)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class PackedLlvmliteFinder(importlib.abc.MetaPathFinder):
    """Finds ``llvmlite.binding.ffi`` through the other finders and patches it right after it is executed."""

    target = "llvmlite.binding.ffi"

    def __init__(self, packed_path, prefetch=None):
        self.packed_path = packed_path
        self.prefetch = prefetch

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.target:
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _PatchingLoader(spec.loader, self)
                return spec
        return None


def install(bundle_dir, argv=(), prefetch=True):
    """Patch llvmlite to load ``<bundle_dir>/llvmlite/binding/libllvmlite.so.zlib`` when the bundle has it."""
    packed = os.path.join(bundle_dir, "llvmlite", "binding", PACKED_NAME)
    if not os.path.exists(packed) or any(isinstance(f, PackedLlvmliteFinder) for f in sys.meta_path):
        return None
    early = None
    if prefetch and not NO_PREFETCH_ARGS & set(argv) and hasattr(os, "memfd_create"):
        early = Prefetch(packed)
    finder = PackedLlvmliteFinder(packed, early)
    sys.meta_path.insert(0, finder)
    return finder


install(getattr(sys, "_MEIPASS", os.path.dirname(os.path.abspath(sys.executable))), sys.argv[1:])
