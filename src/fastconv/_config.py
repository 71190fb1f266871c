"""Build and run-time configuration: SIMD path selection and show_config()."""
import os
import platform
import sys
import warnings

import numpy as np

from fastconv._ext import _runtime

__all__ = ["show_config"]

_ISA_CODES = {name: code for code, name in enumerate(_runtime.ISA_NAMES)}


def _initial_isa():
    """The best compiled path this CPU supports, or FASTCONV_SIMD if set (and runnable)."""
    best = _runtime.isa_best()
    wanted = os.environ.get("FASTCONV_SIMD", "").strip().lower()
    if not wanted:
        return best
    if wanted not in _runtime.isa_supported():
        warnings.warn(f"FASTCONV_SIMD={wanted!r} is not one of the usable SIMD paths "
                      f"{_runtime.isa_supported()}; using {best!r}", RuntimeWarning, stacklevel=3)
        return best
    return wanted


_isa = _initial_isa()


def simd_path():
    """Name of the SIMD path the kernels run."""
    return _isa


def isa_code():
    return _ISA_CODES[_isa]


def set_simd_path(name):
    """Choose the SIMD path ('baseline', 'avx2', 'avx512'); for tests and benchmarks."""
    global _isa
    if name not in _runtime.isa_supported():
        raise ValueError(f"set_simd_path: {name!r} is not usable here; usable paths are "
                         f"{_runtime.isa_supported()}")
    _isa = name


def _blas_info():
    try:
        import scipy
        info = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"scipy.linalg.cython_blas ({info.get('name')} {info.get('version', '')}, SciPy {scipy.__version__})"
    except Exception:  # older SciPy without mode="dicts"
        return "scipy.linalg.cython_blas"


def config_dict():
    from fastconv import __version__
    return {
        "fastconv": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "openmp": _runtime.have_openmp(),
        "blas": _blas_info(),
        "simd_compiled": _runtime.isa_compiled(),
        "simd_supported": _runtime.isa_supported(),
        "simd_chosen": _isa,
        "num_threads": _runtime.num_threads(),
    }


def show_config(file=None):
    """Print how fastconv was built and how it will run.

    Shows the versions, whether OpenMP is in, where BLAS comes from, the SIMD
    paths compiled, those this CPU can run and the one chosen (override with the
    ``FASTCONV_SIMD`` environment variable), and the thread count.
    """
    cfg = config_dict()
    lines = [
        f"fastconv {cfg['fastconv']} (Python {cfg['python']}, NumPy {cfg['numpy']}, {cfg['platform']})",
        f"  OpenMP:          {'yes' if cfg['openmp'] else 'no (serial build)'}",
        f"  BLAS:            {cfg['blas']}",
        f"  SIMD compiled:   {', '.join(cfg['simd_compiled'])}",
        f"  SIMD supported:  {', '.join(cfg['simd_supported'])}",
        f"  SIMD chosen:     {cfg['simd_chosen']}",
        f"  threads:         {cfg['num_threads']}",
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)
