"""show_config, SIMD path selection and the command line."""
import io
import os
import subprocess
import sys

import pytest

import fastconv
from fastconv import _config
from fastconv._ext import _runtime


def test_show_config_names_every_part():
    buf = io.StringIO()
    fastconv.show_config(file=buf)
    text = buf.getvalue()
    for word in ("OpenMP", "BLAS", "SIMD compiled", "SIMD chosen", "threads"):
        assert word in text
    assert _config.simd_path() in text


def test_simd_paths_are_consistent():
    compiled = _runtime.isa_compiled()
    supported = _runtime.isa_supported()
    assert "baseline" in compiled and "baseline" in supported
    assert set(supported) <= set(compiled)
    assert _runtime.isa_best() == supported[-1]


def test_set_simd_path_rejects_unknown():
    with pytest.raises(ValueError, match="usable"):
        _config.set_simd_path("sse9")


def test_fastconv_simd_environment_variable():
    env = dict(os.environ, FASTCONV_SIMD="baseline")
    out = subprocess.run([sys.executable, "-c",
                          "import fastconv; print(fastconv._config.simd_path())"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "baseline", out.stderr


def test_command_line_config():
    out = subprocess.run([sys.executable, "-m", "fastconv", "config"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "SIMD chosen" in out.stdout
