"""The trainer (fastconv.nn, fastconv.optim, fastconv.train) uses only fastconv's
public API: no import of, or attribute access to, a private or internal module."""
import ast
import pathlib

import pytest

import fastconv

PACKAGE = pathlib.Path(fastconv.__file__).parent
TRAINER = ("nn", "optim", "train")
PUBLIC = set(fastconv.__all__) | set(TRAINER)     # names of the package trainer code may use


def trainer_files():
    files = []
    for part in TRAINER:
        path = PACKAGE / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else []
        files += [path.with_suffix(".py")] if path.with_suffix(".py").is_file() else []
    return files


def _allowed(module):
    parts = module.split(".")
    return parts[0] != "fastconv" or len(parts) == 1 or parts[1] in PUBLIC


def violations(source):
    """(line, what) for every import of a fastconv module outside the public API
    (fastconv, fastconv.analysis, the trainer's own packages) and every access
    to a ``fastconv.<name>`` that is not in ``fastconv.__all__``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, "relative import"))
            elif node.module == "fastconv":
                found += [(node.lineno, f"fastconv.{a.name}") for a in node.names
                          if a.name not in PUBLIC]
            elif not _allowed(node.module):
                found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "fastconv" and node.attr not in PUBLIC):
            found.append((node.lineno, f"fastconv.{node.attr}"))
    return sorted(found)


def test_the_scanner_catches_private_access():
    bad = ("import fastconv._validate\nfrom fastconv.conv import conv2d\n"
           "from fastconv import _threads\nimport fastconv\nfastconv._ext\n"
           "from . import layers\nfastconv.pooling.max_pool2d\n")
    assert [what for _, what in violations(bad)] == [
        "fastconv._validate", "fastconv.conv", "fastconv._threads", "fastconv._ext",
        "relative import", "fastconv.pooling"]
    good = ("import numpy as np\nimport fastconv\nfrom fastconv import analysis\n"
            "from fastconv.nn.module import Module\nfastconv.conv2d\n")
    assert violations(good) == []


@pytest.mark.parametrize("path", trainer_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_trainer_uses_only_the_public_api(path):
    found = violations(path.read_text())
    assert not found, f"{path.name}: {found}"


def test_the_public_names_the_layers_call_exist():
    assert trainer_files(), "no trainer sources found"
    for name in ("conv2d", "conv_transpose3d_backward", "depthwise_conv2d_backward",
                 "separable_conv2d_backward", "spatial_pyramid_pool_backward", "pad_backward",
                 "upsample_backward", "channel_shuffle_backward", "global_max_pool_backward"):
        assert name in fastconv.__all__
