"""``python -m fastconv bench``: time a suite of named layers on every backend.

Each case is run on fastconv (with every algorithm, for ops that have the
choice) and, when it is importable, on torch.  Backward cases time fastconv's
``*_backward`` call against ``torch.autograd.grad`` of a forward graph built
once.  Without arguments a short subset runs (DEFAULT_CASES); ``--all`` runs
every case.  Every backend's output is first checked against a
float64 reference (torch in float64 if available, else fastconv's 'direct' in
float64); then all backends are timed interleaved in rounds (each round runs
every backend once), so slow drift of the machine's load hits them alike.
Each timed call comes after a short untimed spell of the same backend, so that
one library's idle, still-spinning threads do not slow down the next one.

The case table (CASES) and the helpers that turn a case into arrays and calls
(Workload) are shared with the asv suite in ``benchmarks/``.
"""
import functools
import math
import random
import statistics
import sys
import time
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

import fastconv
from fastconv import _demo, nn, optim

__all__ = ["CASES", "DEFAULT_CASES", "Case", "Workload", "case_macs", "cases_of",
           "add_arguments", "run"]


class Case(NamedTuple):
    """One benchmark case: the operation (a key of FAMILIES), the sizes its
    arrays are built from, and the keyword arguments passed to the call."""
    op: str
    shape: dict
    kwargs: dict


# The suite.  Batch 1 unless a case's shape says otherwise ("batch"); shapes
# are layers of real networks.  Names are stable (issues and asv refer to
# them).  To add an operation family, add a family class below and cases
# naming its op.  Shape keys: c_in (channels of x), c_out, size (spatial),
# kernel_size, batch.
def _c(op, kwargs=None, **shape):
    return Case(op, shape, kwargs or {})


CASES = {
    # -- convolution
    "c2d_resnet_l1": _c("conv2d", dict(padding=1), c_in=64, c_out=64, size=(56, 56), kernel_size=3),
    "c2d_resnet_l3": _c("conv2d", dict(padding=1), c_in=256, c_out=256, size=(14, 14),
                        kernel_size=3),
    "c2d_resnet_stem": _c("conv2d", dict(stride=2, padding=3), c_in=3, c_out=64,
                          size=(224, 224), kernel_size=7),
    "c2d_resnet_ds": _c("conv2d", dict(stride=2), c_in=128, c_out=256, size=(28, 28),
                        kernel_size=1),
    "c2d_vgg_112": _c("conv2d", dict(padding=1), c_in=128, c_out=128, size=(112, 112),
                      kernel_size=3),
    "c2d_dilated": _c("conv2d", dict(padding=2, dilation=2), c_in=64, c_out=64, size=(56, 56),
                      kernel_size=3),
    "c2d_reflect": _c("conv2d", dict(padding=1, padding_mode="reflect"), c_in=64, c_out=64,
                      size=(56, 56), kernel_size=3),
    "c1d_audio": _c("conv1d", dict(padding=1), c_in=64, c_out=64, size=(16384,), kernel_size=3),
    "c3d_small": _c("conv3d", dict(padding=1), c_in=3, c_out=32, size=(16, 56, 56),
                    kernel_size=3),
    "c3d_c3d": _c("conv3d", dict(padding=1), c_in=64, c_out=128, size=(8, 28, 28),
                  kernel_size=3),
    "pw_mbv2": _c("conv2d", None, c_in=144, c_out=24, size=(56, 56), kernel_size=1),
    "grp_shufflenet": _c("conv2d_shuffle", dict(groups=3), c_in=240, c_out=240, size=(28, 28),
                         kernel_size=1, shuffle=3),
    # -- transposed convolution
    "ct2d_unet": _c("conv_transpose2d", dict(stride=2), c_in=128, c_out=64, size=(28, 28),
                    kernel_size=2),
    "ct2d_k4s2": _c("conv_transpose2d", dict(stride=2, padding=1), c_in=64, c_out=64,
                    size=(56, 56), kernel_size=4),
    "ct3d": _c("conv_transpose3d", dict(stride=2), c_in=32, c_out=16, size=(8, 28, 28),
               kernel_size=2),
    # -- depthwise / separable
    "dw_mbv2_56": _c("depthwise_conv2d", dict(padding=1), c_in=144, size=(56, 56), kernel_size=3),
    "dw_mbv2_s2": _c("depthwise_conv2d", dict(stride=2, padding=1), c_in=96, size=(112, 112),
                     kernel_size=3),
    "dw_mbv2_14": _c("depthwise_conv2d", dict(padding=1), c_in=384, size=(14, 14), kernel_size=3),
    "sep_xception": _c("separable_conv2d", dict(padding=1), c_in=128, c_out=256, size=(38, 38),
                       kernel_size=3),
    # -- pooling
    "mp2d_stem": _c("max_pool2d", dict(kernel_size=3, stride=2, padding=1), c_in=64,
                    size=(112, 112)),
    "mp3d": _c("max_pool3d", dict(kernel_size=2, stride=2), c_in=64, size=(16, 56, 56)),
    "ap2d": _c("avg_pool2d", dict(kernel_size=2, stride=2), c_in=64, size=(56, 56)),
    "aap2d_alexnet": _c("adaptive_avg_pool2d", dict(output_size=(6, 6)), c_in=256,
                        size=(13, 13)),
    "gap": _c("global_avg_pool", None, c_in=512, size=(7, 7)),
    "gap_b8": _c("global_avg_pool", None, batch=8, c_in=2048, size=(7, 7)),
    # -- resampling, padding, shuffling
    "up_bilinear": _c("upsample", dict(scale_factor=2, mode="bilinear"), c_in=64, size=(56, 56)),
    "up_nearest": _c("upsample", dict(scale_factor=2, mode="nearest"), c_in=64, size=(56, 56)),
    "pad_reflect": _c("pad", dict(pad=2, mode="reflect"), c_in=64, size=(56, 56)),
    "shuffle": _c("channel_shuffle", dict(groups=3), c_in=240, size=(28, 28)),
    # -- backward (training shapes): fastconv's *_backward call against
    #    torch.autograd.grad on a forward graph built once
    "train_c2d_l1": _c("conv2d_backward", dict(padding=1), batch=8, c_in=64, c_out=64,
                       size=(56, 56), kernel_size=3),
    "train_dw": _c("depthwise_conv2d_backward", dict(padding=1), batch=8, c_in=144,
                   size=(56, 56), kernel_size=3),
    "train_c3d": _c("conv3d_backward", dict(padding=1), batch=2, c_in=32, c_out=32,
                    size=(8, 28, 28), kernel_size=3),
    "train_mp2d": _c("max_pool2d_backward", dict(kernel_size=3, stride=2, padding=1), batch=8,
                     c_in=64, size=(112, 112)),
    "train_c1d": _c("conv1d_backward", dict(padding=1), batch=8, c_in=64, c_out=64,
                    size=(4096,), kernel_size=3),
    "train_grp": _c("conv2d_backward", dict(groups=3), batch=4, c_in=240, c_out=240,
                    size=(28, 28), kernel_size=1),
    "train_ct2d_unet": _c("conv_transpose2d_backward", dict(stride=2), batch=8, c_in=128,
                          c_out=64, size=(28, 28), kernel_size=2),
    "train_ct3d": _c("conv_transpose3d_backward", dict(stride=2), batch=2, c_in=32, c_out=16,
                     size=(8, 28, 28), kernel_size=2),
    "train_sep": _c("separable_conv2d_backward", dict(padding=1), batch=4, c_in=128, c_out=256,
                    size=(38, 38), kernel_size=3),
    "train_mp3d": _c("max_pool3d_backward", dict(kernel_size=2, stride=2), batch=2, c_in=64,
                     size=(16, 56, 56)),
    "train_ap2d": _c("avg_pool2d_backward", dict(kernel_size=2, stride=2), batch=8, c_in=64,
                     size=(56, 56)),
    "train_aap2d": _c("adaptive_avg_pool2d_backward", dict(output_size=(6, 6)), batch=8,
                      c_in=256, size=(13, 13)),
    "train_gap": _c("global_avg_pool_backward", None, batch=8, c_in=512, size=(7, 7)),
    "train_up": _c("upsample_backward", dict(scale_factor=2, mode="bilinear"), batch=8, c_in=64,
                   size=(56, 56)),
    "train_pad": _c("pad_backward", dict(pad=2, mode="reflect"), batch=8, c_in=64,
                    size=(56, 56)),
    "train_shuffle": _c("channel_shuffle_backward", dict(groups=3), batch=8, c_in=240,
                        size=(28, 28)),
    # -- one training step of a whole model (forward, cross-entropy, backward,
    #    SGD-momentum update): fastconv.nn against the same model in torch
    "train_step_digits": _c("train_step", dict(model="digits"), batch=32, c_in=1, size=(8, 8)),
    "train_step_resnet32": _c("train_step", dict(model="resnet8"), batch=32, c_in=3,
                              size=(32, 32)),
}

# `python -m fastconv bench` without --all/--filter: the original conv cases
# and one case per other family (about a minute).
DEFAULT_CASES = ("c2d_resnet_l1", "c2d_resnet_l3", "c2d_resnet_stem", "c2d_resnet_ds",
                 "c2d_vgg_112", "c2d_dilated", "c2d_reflect", "c1d_audio", "c3d_small",
                 "grp_shufflenet", "ct2d_unet", "dw_mbv2_56", "sep_xception", "mp2d_stem",
                 "ap2d", "gap", "up_bilinear", "pad_reflect", "shuffle",
                 "train_dw", "train_mp2d", "train_step_digits", "train_step_resnet32")

# The performance suite: the real-network layer shapes fastconv's speed targets
# are stated for (README, "Benchmarks"); `--suite` runs exactly these and the
# summary reports the geometric mean over them separately.
SUITE = ("c2d_resnet_stem", "c2d_resnet_l1", "c2d_resnet_l3", "c2d_resnet_ds", "c2d_vgg_112",
         "c2d_dilated", "c2d_reflect", "dw_mbv2_56", "dw_mbv2_s2", "dw_mbv2_14", "pw_mbv2",
         "sep_xception", "grp_shufflenet", "ct2d_unet", "ct2d_k4s2", "c3d_c3d", "c3d_small",
         "ct3d", "c1d_audio", "mp2d_stem", "ap2d", "gap", "gap_b8", "mp3d", "up_bilinear",
         "up_nearest", "train_c2d_l1", "train_dw", "train_c3d", "train_mp2d")

QUICK_REPEAT = 3
# Seconds a backend runs untimed after fastconv's BLAS-backed 'im2col' (see _time_rounds).
BLAS_SETTLE = 0.15


# ------------------------------------------------------------ families ----
def _ntuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def _batch(case):
    return case.shape.get("batch", 1)


class _Family:
    """What every family provides; the defaults suit a one-input op.

    make_inputs -> list of arrays; fastconv_call / torch_call -> zero-argument
    calls on them (the result: an array/tensor or a tuple of them);
    reduction_length -> terms summed per output element (the check's
    tolerance); macs -> (multiply-adds or None, note or None).
    """
    takes_algorithm = False  # True: one backend per fastconv.ALGORITHMS entry
    check_dtype = None       # check results in this dtype instead of the timed one

    def x_shape(self, case):
        return (_batch(case), case.shape["c_in"], *case.shape["size"])

    def make_inputs(self, case, dtype, rng):
        return [rng.standard_normal(self.x_shape(case), dtype=dtype)]

    def reduction_length(self, case):
        return 1

    def macs(self, case):
        return None, None


class _Unary(_Family):
    """fastconv.<op>(x, **kwargs) against a torch expression of x."""

    def __init__(self, torch_fn, reduction=lambda case: 1):
        self.torch_fn = torch_fn  # (torch, x, kwargs) -> tensor
        self._reduction = reduction

    def reduction_length(self, case):
        return self._reduction(case)

    def fastconv_call(self, case, arrays, algorithm):
        fn = getattr(fastconv, case.op)
        x, = arrays
        return lambda: fn(x, **case.kwargs)

    def torch_call(self, case, tensors, torch):
        x, = tensors
        return lambda: self.torch_fn(torch, x, case.kwargs)


def _torch_upsample(torch, x, kw):
    extra = {} if kw["mode"] == "nearest" else {"align_corners": bool(kw.get("align_corners"))}
    return torch.nn.functional.interpolate(x, scale_factor=kw["scale_factor"], mode=kw["mode"],
                                           **extra)


def _torch_pad(torch, x, kw):
    p = kw["pad"]
    pairs = [(p, p)] * (x.dim() - 2) if isinstance(p, int) else p
    flat = [v for pair in reversed(pairs) for v in pair]
    return torch.nn.functional.pad(x, flat, mode=kw.get("mode", "constant"))


def _torch_shuffle(torch, x, groups):
    n, c = x.shape[:2]
    return (x.reshape(n, groups, c // groups, *x.shape[2:]).transpose(1, 2)
            .reshape(x.shape))


def _pool_window(case):
    return math.prod(_ntuple(case.kwargs["kernel_size"], len(case.shape["size"])))


def _torch_pool(name):
    return lambda torch, x, kw: getattr(torch.nn.functional, name)(x, **kw)


class _Weighted(_Family):
    """Ops with (x, weight, bias): conv, transposed conv, depthwise.  Subclasses
    give weight_shape, fan_in and count MACs; backward families add the
    weight-gradient's reduction over batch and output positions."""

    def weight_shape(self, case):
        raise NotImplementedError

    def fan_in(self, case):
        return self.reduction_length(case)

    def make_inputs(self, case, dtype, rng):
        x = rng.standard_normal(self.x_shape(case), dtype=dtype)
        w_shape = self.weight_shape(case)
        # Scale like a default init so sums stay O(1) whatever the fan-in.
        w = (rng.standard_normal(w_shape) / math.sqrt(self.fan_in(case))).astype(dtype)
        b = rng.standard_normal(self.bias_channels(case)).astype(dtype)
        return [x, w, b]

    def bias_channels(self, case):
        return case.shape["c_out"]


class _Conv(_Weighted):
    """conv1d/2d/3d: arrays (x, weight, bias), the 'algorithm' keyword, MACs.

    Written independently of fastconv's own argument parsing, so that the torch
    call (and hence the reference) does not share its mistakes.
    """
    takes_algorithm = True

    def __init__(self, nd):
        self.nd = nd
        self.name = f"conv{nd}d"

    def _geometry(self, case):
        """Kernel, stride, dilation and (before, after) padding per spatial axis."""
        kw, nd = case.kwargs, self.nd
        kernel = _ntuple(case.shape["kernel_size"], nd)
        stride = _ntuple(kw.get("stride", 1), nd)
        dilation = _ntuple(kw.get("dilation", 1), nd)
        padding = kw.get("padding", 0)
        if padding == "valid":
            pairs = [(0, 0)] * nd
        elif padding == "same":  # the odd extra element goes at the end
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            pairs = [(t // 2, t - t // 2) for t in total]
        else:
            pairs = [p if isinstance(p, (tuple, list)) else (p, p) for p in _ntuple(padding, nd)]
        return kernel, stride, dilation, pairs

    def out_shape(self, case):
        kernel, stride, dilation, pairs = self._geometry(case)
        sp = [(i + b + a - d * (k - 1) - 1) // s + 1
              for i, k, s, d, (b, a) in zip(case.shape["size"], kernel, stride, dilation, pairs)]
        return (_batch(case), case.shape["c_out"], *sp)

    def weight_shape(self, case):
        s, groups = case.shape, case.kwargs.get("groups", 1)
        return (s["c_out"], s["c_in"] // groups, *_ntuple(s["kernel_size"], self.nd))

    def reduction_length(self, case):
        """Products summed into each output element (sets the check's tolerance)."""
        groups = case.kwargs.get("groups", 1)
        return case.shape["c_in"] // groups * math.prod(self._geometry(case)[0])

    def macs(self, case):
        """Multiply-adds: fastconv.analysis.conv_macs (per sample, times the
        batch) when it exists, else the output size times the reduction length."""
        counted = math.prod(self.out_shape(case)) * self.reduction_length(case)
        conv_macs = getattr(fastconv.analysis, "conv_macs", None)
        if conv_macs is None:
            return counted, None
        s, kw = case.shape, case.kwargs
        try:
            macs = _batch(case) * conv_macs(
                (s["c_in"], *s["size"]), s["c_out"], s["kernel_size"],
                stride=kw.get("stride", 1), padding=kw.get("padding", 0),
                dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
        except Exception as exc:  # analysis.py is young; the benchmark must still run
            return counted, f"analysis.conv_macs failed ({exc!r}); using the output-shape count"
        if macs != counted:
            return counted, (f"analysis.conv_macs gives {macs}, the output shape gives "
                             f"{counted}; using the latter")
        return macs, None

    def fastconv_call(self, case, arrays, algorithm):
        fn = getattr(fastconv, self.name)
        x, w, b = arrays
        return lambda: fn(x, w, b, **case.kwargs, algorithm=algorithm)

    def torch_call(self, case, tensors, torch):
        """torch.nn.functional.conv{n}d; it has no padding_mode, so non-zero modes
        (and asymmetric padding) go through F.pad first, as torch.nn.Conv{n}d does."""
        F = torch.nn.functional
        fn = getattr(F, self.name)
        x, w, b = tensors
        kw = {k: v for k, v in case.kwargs.items() if k != "padding_mode"}
        mode = case.kwargs.get("padding_mode", "zeros")
        pairs = self._geometry(case)[3]
        if mode == "zeros" and all(bf == af for bf, af in pairs):
            kw["padding"] = tuple(bf for bf, _ in pairs)
            return lambda: fn(x, w, b, **kw)
        kw["padding"] = 0
        # F.pad lists (before, after) from the last axis backwards.
        flat = [p for pair in reversed(pairs) for p in pair]
        tmode = "constant" if mode == "zeros" else mode
        return lambda: fn(F.pad(x, flat, mode=tmode), w, b, **kw)


class _ConvShuffle(_Conv):
    """A grouped conv2d followed by channel_shuffle (ShuffleNet), timed as one."""

    def __init__(self):
        super().__init__(2)

    def fastconv_call(self, case, arrays, algorithm):
        conv, g = super().fastconv_call(case, arrays, algorithm), case.shape["shuffle"]
        return lambda: fastconv.channel_shuffle(conv(), g)

    def torch_call(self, case, tensors, torch):
        conv, g = super().torch_call(case, tensors, torch), case.shape["shuffle"]
        return lambda: _torch_shuffle(torch, conv(), g)


class _ConvTranspose(_Conv):
    """conv_transpose{n}d: weight (c_in, c_out / groups, *kernel)."""

    def __init__(self, nd):
        super().__init__(nd)
        self.name = f"conv_transpose{nd}d"

    def out_shape(self, case):
        kw, nd = case.kwargs, self.nd
        kernel = _ntuple(case.shape["kernel_size"], nd)
        stride, padding = _ntuple(kw.get("stride", 1), nd), _ntuple(kw.get("padding", 0), nd)
        outpad, dil = _ntuple(kw.get("output_padding", 0), nd), _ntuple(kw.get("dilation", 1), nd)
        sp = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
              for i, k, s, p, op, d in zip(case.shape["size"], kernel, stride, padding, outpad,
                                           dil)]
        return (_batch(case), case.shape["c_out"], *sp)

    def weight_shape(self, case):
        s, groups = case.shape, case.kwargs.get("groups", 1)
        return (s["c_in"], s["c_out"] // groups, *_ntuple(s["kernel_size"], self.nd))

    def reduction_length(self, case):  # an upper bound: each output sums <= this many
        return case.shape["c_in"] // case.kwargs.get("groups", 1) * math.prod(
            _ntuple(case.shape["kernel_size"], self.nd))

    def macs(self, case):
        """fastconv.analysis.conv_transpose_macs, times the batch."""
        s = case.shape
        return _batch(case) * fastconv.analysis.conv_transpose_macs(
            (s["c_in"], *s["size"]), s["c_out"], s["kernel_size"],
            groups=case.kwargs.get("groups", 1)), None

    def torch_call(self, case, tensors, torch):
        fn = getattr(torch.nn.functional, self.name)
        x, w, b = tensors
        return lambda: fn(x, w, b, **case.kwargs)


class _Depthwise(_Conv):
    """depthwise_conv2d: a conv2d with groups = channels, weight (C, 1, k, k)."""
    takes_algorithm = False

    def __init__(self):
        super().__init__(2)

    def _dw_case(self, case):
        """The same layer as a grouped conv2d case (for shapes, MACs, torch)."""
        c = case.shape["c_in"]
        return Case("conv2d", dict(case.shape, c_out=c), dict(case.kwargs, groups=c))

    def out_shape(self, case):
        return super().out_shape(self._dw_case(case))

    def weight_shape(self, case):
        return super().weight_shape(self._dw_case(case))

    def bias_channels(self, case):
        return case.shape["c_in"]

    def reduction_length(self, case):
        return super().reduction_length(self._dw_case(case))

    def macs(self, case):
        return super().macs(self._dw_case(case))

    def fastconv_call(self, case, arrays, algorithm):
        x, w, b = arrays
        return lambda: fastconv.depthwise_conv2d(x, w, b, **case.kwargs)

    def torch_call(self, case, tensors, torch):
        return super().torch_call(self._dw_case(case), tensors, torch)


class _Separable(_Depthwise):
    """separable_conv2d: depthwise k x k (with bias), then 1x1 c_in -> c_out."""

    def make_inputs(self, case, dtype, rng):
        x, dw, db = super().make_inputs(case, dtype, rng)
        c_in, c_out = case.shape["c_in"], case.shape["c_out"]
        pw = (rng.standard_normal((c_out, c_in, 1, 1)) / math.sqrt(c_in)).astype(dtype)
        pb = rng.standard_normal(c_out).astype(dtype)
        return [x, dw, pw, db, pb]

    def fan_in(self, case):
        return super().reduction_length(case)

    def reduction_length(self, case):
        return super().reduction_length(case) * case.shape["c_in"]

    def macs(self, case):
        """fastconv.analysis.depthwise_separable_macs (depthwise + pointwise), times
        the batch."""
        s, kw = case.shape, case.kwargs
        parts = fastconv.analysis.depthwise_separable_macs(
            (s["c_in"], *s["size"]), s["c_out"], s["kernel_size"], stride=kw.get("stride", 1),
            padding=kw.get("padding", 0), dilation=kw.get("dilation", 1))
        return _batch(case) * sum(parts), None

    def fastconv_call(self, case, arrays, algorithm):
        x, dw, pw, db, pb = arrays
        return lambda: fastconv.separable_conv2d(x, dw, pw, db, pb, **case.kwargs)

    def torch_call(self, case, tensors, torch):
        x, dw, pw, db, pb = tensors
        depthwise = _Conv.torch_call(self, self._dw_case(case), [x, dw, db], torch)
        return lambda: torch.nn.functional.conv2d(depthwise(), pw, pb)


class _Backward(_Family):
    """<op>_backward of a forward family: inputs (grad_output, *forward inputs).

    fastconv: fastconv.<op>_backward(grad_output, *forward_inputs[:n_passed],
    **kwargs); torch: torch.autograd.grad of the forward graph, built once,
    with respect to forward_inputs[:n_grads] (retain_graph=True), so that only
    the backward pass is timed on both sides.
    """

    def __init__(self, forward, n_passed, n_grads, macs_factor=None, forward_only=()):
        self.forward = forward
        self.takes_algorithm = forward.takes_algorithm
        self.n_passed, self.n_grads, self.macs_factor = n_passed, n_grads, macs_factor
        # Forward keywords the backward call does not take (it reads them off the
        # shapes, e.g. adaptive pooling's output_size).
        self.forward_only = forward_only

    def _fwd_case(self, case):
        return case._replace(op=case.op[:-len("_backward")])

    def make_inputs(self, case, dtype, rng):
        fcase = self._fwd_case(case)
        arrays = self.forward.make_inputs(fcase, dtype, rng)
        y = self.forward.fastconv_call(fcase, arrays, "auto")()
        return [rng.standard_normal(np.shape(y), dtype=dtype), *arrays]

    def reduction_length(self, case):
        """The input gradient sums like the forward; a weight gradient sums over
        the batch and every output position."""
        fcase = self._fwd_case(case)
        length = self.forward.reduction_length(fcase)
        if self.n_grads > 1:
            out = self.forward.out_shape(fcase)
            length = max(length, out[0] * math.prod(out[2:]))
        return length

    def macs(self, case):
        """Input gradient + weight gradient: twice the forward's."""
        if self.macs_factor is None:
            return None, None
        macs, note = self.forward.macs(self._fwd_case(case))
        return self.macs_factor * macs, note

    def fastconv_call(self, case, arrays, algorithm):
        fn = getattr(fastconv, case.op)
        g, *inputs = arrays
        inputs = inputs[:self.n_passed]
        kwargs = {k: v for k, v in case.kwargs.items() if k not in self.forward_only}
        if self.takes_algorithm:
            return lambda: fn(g, *inputs, **kwargs, algorithm=algorithm)
        return lambda: fn(g, *inputs, **kwargs)

    def torch_call(self, case, tensors, torch):
        g, *inputs = tensors
        leaves = inputs[:self.n_grads]
        with torch.enable_grad():
            for t in leaves:
                t.requires_grad_(True)
            y = self.forward.torch_call(self._fwd_case(case), inputs, torch)()
        return lambda: torch.autograd.grad(y, leaves, g, retain_graph=True)


class _SavedIndicesBackward(_Backward):
    """Max pooling backward as training runs it: torch autograd's graph saved
    its forward's argmax indices, so fastconv is given the indices its forward
    returned (return_indices=True; computed once when the call is built,
    untimed on both sides) and routes through them (indices=) as torch does."""

    def fastconv_call(self, case, arrays, algorithm):
        g, x = arrays[:2]
        forward = getattr(fastconv, self._fwd_case(case).op)
        _, indices = forward(x, **case.kwargs, return_indices=True)
        backward = getattr(fastconv, case.op)
        return lambda: backward(g, x, **case.kwargs, indices=indices)


# ------------------------------------------------------- training step ----
def resnet8(num_classes=10, *, rng=None, dtype=np.float32):
    """A CIFAR-style ResNet-8 for 3x32x32 inputs (He et al. 2016, section 4.2,
    n = 1): a 3x3 convolution to 16 channels, one basic block per stage at 16,
    32 and 64 channels (stride 1, 2, 2; a 1x1 convolution + BN shortcut where
    the shape changes), global average pooling and a linear layer."""
    rng = np.random.default_rng(rng)

    def conv_bn(cin, cout, k, stride):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False, dtype=dtype, rng=rng),
                nn.BatchNorm2d(cout, dtype=dtype)]

    def block(cin, cout, stride):
        body = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(),
                             *conv_bn(cout, cout, 3, 1))
        shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 else None
        return nn.Sequential(OrderedDict(residual=nn.Residual(body, shortcut), relu=nn.ReLU()))

    return nn.Sequential(OrderedDict(
        stem=nn.Sequential(*conv_bn(3, 16, 3, 1), nn.ReLU()), stage1=block(16, 16, 1),
        stage2=block(16, 32, 2), stage3=block(32, 64, 2), pool=nn.GlobalAvgPool(),
        fc=nn.Linear(64, num_classes, dtype=dtype, rng=rng)))


def _torch_twin(torch, model):
    """The same architecture as a fastconv.nn model, in torch.nn, with the same
    state_dict keys (Residual becomes a module with `block` and `shortcut`)."""
    tnn = torch.nn

    class Residual(tnn.Module):
        def __init__(self, block, shortcut):
            super().__init__()
            self.block, self.shortcut = block, shortcut

        def forward(self, x):
            return self.block(x) + (x if self.shortcut is None else self.shortcut(x))

    def twin(m):
        if isinstance(m, nn.Sequential):
            return tnn.Sequential(OrderedDict((name, twin(c)) for name, c in
                                              m.named_modules() if name and "." not in name))
        if isinstance(m, nn.Residual):
            return Residual(twin(m.block), None if m.shortcut is None else twin(m.shortcut))
        if isinstance(m, nn.Conv2d):
            return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                              m.padding, bias=m.bias is not None)
        simple = {nn.ReLU: tnn.ReLU, nn.Flatten: tnn.Flatten}
        if type(m) in simple:
            return simple[type(m)]()
        if isinstance(m, nn.MaxPool2d):
            return tnn.MaxPool2d(m.kw["kernel_size"], m.kw["stride"])
        if isinstance(m, nn.BatchNorm2d):
            return tnn.BatchNorm2d(m.num_features)
        if isinstance(m, nn.Dropout):
            return tnn.Dropout(m.p)
        if isinstance(m, nn.GlobalAvgPool):
            return tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
        if isinstance(m, nn.Linear):
            return tnn.Linear(m.in_features, m.out_features)
        raise TypeError(f"no torch twin for {type(m).__name__}")

    t = twin(model)
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    return t


class _TrainStep(_Family):
    """One training step: zero_grad, forward, cross-entropy, backward and an
    SGD-with-momentum update, of a whole model on a batch with random labels.

    The call returns the parameters' gradients; those of a first call are
    checked (every backend starts from the same weights), in float64 whatever
    dtype is timed: in float32 a ReLU whose input lies within rounding of zero
    may switch (in torch too), which moves a weight gradient by ~1 %, a
    difference of rounding, not of method.  The digits CNN is built without
    dropout here, so that both backends compute the same thing.
    """
    LR, MOMENTUM, CLASSES = 0.01, 0.9, 10
    check_dtype = np.float64

    def _model(self, case, dtype):
        """The case's model with float32 initial weights (the same in every dtype)."""
        if case.kwargs["model"] == "digits":
            model = _demo.digits_cnn(0, dropout=0.0)
        else:
            model = resnet8(self.CLASSES, rng=0)
        return model.to(dtype)

    def make_inputs(self, case, dtype, rng):
        x = rng.standard_normal(self.x_shape(case)).astype(dtype)
        labels = rng.integers(0, self.CLASSES, _batch(case)).astype(dtype)  # cast back in the calls
        return [x, labels]

    def reduction_length(self, case):
        """An upper bound: a weight gradient sums over the batch and the positions,
        an input gradient over the taps of the widest layer (64 channels)."""
        return _batch(case) * math.prod(case.shape["size"]) * 64 * 9

    def macs(self, case):
        """Forward multiply-adds times 3 (the backward's two products per weight)."""
        model = self._model(case, np.float32)
        per_sample = model.summary((case.shape["c_in"], *case.shape["size"])).total_macs
        return 3 * _batch(case) * per_sample, None

    def fastconv_call(self, case, arrays, algorithm):
        x, labels = arrays
        y = labels.astype(np.int64)
        model = self._model(case, x.dtype)
        params = list(model.parameters())
        opt = optim.SGD(params, lr=self.LR, momentum=self.MOMENTUM)
        loss = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss(model(x), y)
            model.backward(loss.backward(), need_input=False)
            opt.step()
            return tuple(p.grad for p in params)
        return step

    def torch_call(self, case, tensors, torch):
        x, labels = tensors
        y = labels.long()
        model = _torch_twin(torch, self._model(case, np.float32)).to(x.dtype)
        opt = torch.optim.SGD(model.parameters(), lr=self.LR, momentum=self.MOMENTUM)

        def step():
            with torch.enable_grad():  # the reference runs under no_grad
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            return tuple(p.grad for p in model.parameters())
        return step


FAMILIES = {
    "conv1d": _Conv(1), "conv2d": _Conv(2), "conv3d": _Conv(3),
    "conv2d_shuffle": _ConvShuffle(),
    "conv_transpose1d": _ConvTranspose(1), "conv_transpose2d": _ConvTranspose(2),
    "conv_transpose3d": _ConvTranspose(3),
    "max_pool2d": _Unary(_torch_pool("max_pool2d")),
    "max_pool3d": _Unary(_torch_pool("max_pool3d")),
    "avg_pool2d": _Unary(_torch_pool("avg_pool2d"), _pool_window),
    "adaptive_avg_pool2d": _Unary(
        _torch_pool("adaptive_avg_pool2d"),
        lambda case: math.prod(-(-i // o) + 1 for i, o in zip(case.shape["size"],
                                                              case.kwargs["output_size"]))),
    "global_avg_pool": _Unary(lambda torch, x, kw: x.mean(dim=tuple(range(2, x.dim()))),
                              lambda case: math.prod(case.shape["size"])),
    "upsample": _Unary(_torch_upsample, lambda case: 4),
    "pad": _Unary(_torch_pad),
    "channel_shuffle": _Unary(lambda torch, x, kw: _torch_shuffle(torch, x, kw["groups"])),
    "train_step": _TrainStep(),
}
# Backward of every forward family: (grad_output, x, weight) -> (dx, dw, db) for
# the weighted ones, (grad_output, x) -> dx for the others.
FAMILIES.update({f"{op}_backward": _Backward(FAMILIES[op], 2, 3, macs_factor=2)
                 for nd in (1, 2, 3) for op in (f"conv{nd}d", f"conv_transpose{nd}d")})
FAMILIES.update({f"{op}_backward": _Backward(FAMILIES[op], 1, 1)
                 for op in ("max_pool2d", "max_pool3d", "avg_pool2d", "global_avg_pool",
                            "upsample", "pad", "channel_shuffle")})
FAMILIES["adaptive_avg_pool2d_backward"] = _Backward(
    FAMILIES["adaptive_avg_pool2d"], 1, 1, forward_only=("output_size",))
# The depthwise module may be absent from a build (or still being written).
if hasattr(fastconv, "depthwise_conv2d"):
    FAMILIES["depthwise_conv2d"] = _Depthwise()
if hasattr(fastconv, "separable_conv2d"):
    FAMILIES["separable_conv2d"] = _Separable()
if hasattr(fastconv, "depthwise_conv2d_backward"):
    FAMILIES["depthwise_conv2d_backward"] = _Backward(_Depthwise(), 2, 3, macs_factor=2)
if hasattr(fastconv, "separable_conv2d_backward"):
    # (grad_output, x, dw, pw, dw_bias) -> gradients of x, dw, pw, dw_bias, pw_bias
    FAMILIES["separable_conv2d_backward"] = _Backward(_Separable(), 4, 5, macs_factor=2)
for _op in ("max_pool2d", "max_pool3d"):
    FAMILIES[f"{_op}_backward"] = _SavedIndicesBackward(FAMILIES[_op], 1, 1)
# Cases whose op this build lacks are left out of the suite.
CASES = {name: case for name, case in CASES.items() if case.op in FAMILIES}
DEFAULT_CASES = tuple(name for name in DEFAULT_CASES if name in CASES)
SUITE = tuple(name for name in SUITE if name in CASES)


def cases_of(*ops):
    """Names of the cases of the given ops, in table order."""
    return [name for name, case in CASES.items() if case.op in ops]


# ------------------------------------------------------------ workload ----
def case_macs(name):
    """(multiply-adds of the case, a note when the count had to be worked around)."""
    case = CASES[name]
    return FAMILIES[case.op].macs(case)


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


class Workload:
    """A case's arrays, built once (seeded), and zero-argument calls on them."""

    def __init__(self, name, dtype=np.float32, seed=0):
        self.name = name
        self.case = CASES[name]
        self.family = FAMILIES[self.case.op]
        self.dtype = np.dtype(dtype)
        self.check_dtype = np.dtype(self.family.check_dtype or dtype)
        self.arrays = self.family.make_inputs(self.case, self.dtype, np.random.default_rng(seed))

    def macs(self):
        """(MACs, note or None)."""
        return case_macs(self.name)

    def backends(self, algorithms):
        """fastconv's backend names for this case: the algorithms, or 'fastconv'
        for ops without an algorithm choice."""
        return list(algorithms) if self.family.takes_algorithm else ["fastconv"]

    def fastconv(self, algorithm, dtype=None):
        """A call of fastconv; `algorithm` is ignored by ops without the choice."""
        arrays = self.arrays if dtype is None else [a.astype(dtype) for a in self.arrays]
        if not self.family.takes_algorithm:
            algorithm = None
        return self.family.fastconv_call(self.case, arrays, algorithm)

    def torch(self, torch, dtype=None):
        """A call of torch returning NumPy array(s) (a tuple for backward ops)."""
        arrays = self.arrays if dtype is None else [a.astype(dtype) for a in self.arrays]
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
        call = self.family.torch_call(self.case, tensors, torch)

        def run():
            y = call()
            return tuple(t.numpy() for t in y) if isinstance(y, (tuple, list)) else y.numpy()
        return run

    def reference(self, torch):
        """The float64 result and what computed it."""
        if torch is not None:
            with torch.no_grad():
                return self.torch(torch, np.float64)(), "torch float64"
        return self.fastconv("direct", np.float64)(), "fastconv direct float64"

    def check(self, y, ref):
        """None if y matches the reference within tolerance, else what is wrong;
        and the relative error (the largest over a tuple's members)."""
        ys = y if isinstance(y, tuple) else (y,)
        refs = ref if isinstance(ref, tuple) else (ref,)
        if len(ys) != len(refs):
            return f"{len(ys)} results, reference {len(refs)}", None
        err = 0.0
        for a, r in zip(ys, refs):
            if np.shape(a) != np.shape(r):
                return f"shape {np.shape(a)}, reference {np.shape(r)}", None
            err = max(err, relative_error(a, r))
        tol = self.tolerance()
        if not err <= tol:  # also catches NaN
            return f"rel err {err:.1e} > tol {tol:.1e}", err
        return None, err

    def tolerance(self):
        """Bound on max|y - ref| / max|ref|: rounding grows like sqrt(K) for a
        sum of K products; the factor leaves room for blocked summation orders,
        while a wrong or missing term (error ~ 1/sqrt(K)) is still caught."""
        eps = np.finfo(self.check_dtype).eps
        return 16 * eps * math.sqrt(self.family.reduction_length(self.case))


def relative_error(y, ref):
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(float(np.max(np.abs(ref))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(y - ref))) / scale


# ------------------------------------------------------------- command ----
def _split(values):
    """Flatten repeatable, comma-separated option values."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def add_arguments(parser):
    parser.description = ("Time the layer suite on fastconv's algorithms and torch (if "
                          "installed), after checking every result against float64.")
    parser.add_argument("--filter", action="append", metavar="SUBSTR",
                        help="only cases whose name contains SUBSTR, from the whole suite "
                             "(repeatable, or comma-separated); cases: " + ", ".join(CASES))
    parser.add_argument("--all", action="store_true",
                        help="the whole suite (default: a short subset, "
                             + ", ".join(DEFAULT_CASES) + ")")
    parser.add_argument("--suite", action="store_true",
                        help="the performance suite of real-network layers: "
                             + ", ".join(SUITE))
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastconv, BLAS and torch "
                             "(default: fastconv.get_num_threads())")
    parser.add_argument("--repeat", type=int, default=None,
                        help=f"timed rounds per case (default 11, {QUICK_REPEAT} with --quick)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--algorithms", action="append", metavar="ALG",
                        help="fastconv algorithms to time (repeatable, or comma-separated; "
                             f"default all of {', '.join(fastconv.ALGORITHMS)})")
    parser.add_argument("--settle", type=float, default=50.0, metavar="MS",
                        help="untimed calls of a backend for this long before each timed "
                             "call, so the previous backend's idle threads stop competing "
                             "for cores (default 50)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the first selected case only, few rounds")
    parser.add_argument("--scaling", action="store_true",
                        help="time fastconv alone at 1 thread and at --threads, side by side "
                             "in the same rounds, and print each case's speed-up (1-thread / "
                             "N-thread time of its fastest algorithm at each count)")
    parser.add_argument("--compare", action="store_true",
                        help="also time ONNX Runtime and OpenVINO (f32) on each forward case "
                             "(those installed: pip install onnx onnxruntime openvino), report "
                             "fastconv's ratio to the best peer and the percentage of the "
                             "machine's measured sgemm rate")


def _select_cases(filters, everything=False, suite=False):
    if suite:
        return [name for name in SUITE if not filters or any(f in name for f in filters)]
    if not filters:
        return list(CASES) if everything else list(DEFAULT_CASES)
    return [name for name in CASES if any(f in name for f in filters)]


def _fmt_count(n):
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _blas_limits(threads):
    """A threadpoolctl BLAS limit (im2col's GEMM runs on BLAS's own threads),
    or None and a note when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None, ("note: threadpoolctl is not installed, so BLAS (algorithm='im2col') "
                      "uses its default thread count, not --threads")
    return threadpool_limits(limits=threads, user_api="blas"), None


# Timed calls per backend per round; the round's sample is their median.
TIMED_PER_ROUND = 5


def _time_rounds(calls, repeat, settle, prepare=None):
    """Seconds per call, per backend: one sample per round.

    Round r runs every backend in turn, in an order shuffled afresh each
    round (seeded, so runs repeat): with a fixed cyclic order each backend
    would nearly always follow the same neighbour and inherit the same
    neighbour's leftovers.  Before its timed calls, a backend runs untimed for
    `settle` seconds (at least once): the previous backend's thread pool is
    still spinning for a while after its call and would otherwise steal cores
    from this one, so what we measure is each backend's steady state, not the
    cost of switching pools.  OpenBLAS's idle threads (fastconv's 'im2col')
    poll for about 0.1 s, longer than the default settle: the backend after it
    settles for at least BLAS_SETTLE.  The round's sample is the median of
    TIMED_PER_ROUND consecutive timed calls, so one preempted call on this
    shared machine does not stand for the round.  prepare: for some backends, an
    untimed call made before their settling (--scaling sets the thread count).
    Backend names may carry a suffix after '@' ("im2col@2").
    """
    names = list(calls)
    times = {name: [] for name in names}
    order = random.Random(0)
    previous = None
    for _ in range(repeat):
        order.shuffle(names)
        for name in names:
            call = calls[name]
            wait = max(settle, BLAS_SETTLE) if previous == "im2col" else settle
            previous = name.partition("@")[0]
            if prepare and name in prepare:
                prepare[name]()
            settled = time.perf_counter() + wait
            call()
            while time.perf_counter() < settled:
                call()
            samples = []
            for _ in range(TIMED_PER_ROUND):
                t0 = time.perf_counter()
                call()
                samples.append(time.perf_counter() - t0)
            times[name].append(statistics.median(samples))
    return times


def _run_case(name, dtype, algorithms, torch, repeat, settle, onnx_peers=(), threads=1):
    """Check, then time one case.  Returns (rows, summary, ok)."""
    work = Workload(name, dtype)
    ref, _ = work.reference(torch)
    macs, macs_note = work.macs()
    if macs_note:
        print(f"  {name}: {macs_note}")

    calls, status, ok = {}, {}, True
    candidates = {alg: work.fastconv(alg) for alg in work.backends(algorithms)}
    if torch is not None:
        candidates["torch"] = work.torch(torch)
    if onnx_peers:
        from fastconv import _peers
        candidates.update(_peers.peer_calls(work.case, work.family, work.arrays, threads,
                                            onnx_peers))
    for backend, call in candidates.items():
        if isinstance(call, str):  # a peer that cannot run this case says why
            status[backend] = call
            continue
        try:
            y = call()  # also the warm-up call
            if work.check_dtype != work.dtype:  # a fresh call in the checked dtype
                y = (work.torch(torch, work.check_dtype) if backend == "torch"
                     else work.fastconv(backend, work.check_dtype))()
        except ValueError as exc:
            if backend in ("direct", "torch", "fastconv"):
                status[backend], ok = f"FAILED: {exc}", False
            else:  # an algorithm that does not apply to this shape says so
                status[backend] = f"n/a: {exc}"
            continue
        except Exception as exc:
            status[backend], ok = f"FAILED: {type(exc).__name__}: {exc}", False
            continue
        problem, err = work.check(y, ref)
        if problem:
            status[backend], ok = f"FAILED: {problem}", False
            continue
        status[backend] = f"ok {err:.1e}"
        calls[backend] = call

    times = _time_rounds(calls, repeat, settle)
    med = {b: statistics.median(t) for b, t in times.items()}
    rows = []
    for backend in candidates:
        if backend in med:
            rows.append((backend, f"{med[backend] * 1e3:.3f}", f"{min(times[backend]) * 1e3:.3f}",
                         "-" if macs is None else f"{2 * macs / med[backend] / 1e9:.1f}",
                         status[backend]))
        else:
            rows.append((backend, "-", "-", "-", status[backend]))

    peers = {b: m for b, m in med.items() if b in PEER_NAMES}
    fc = {b: m for b, m in med.items() if b not in PEER_NAMES}
    best = min(fc, key=fc.get) if fc else None
    best_peer = min(peers, key=peers.get) if peers else None
    ratio = fc[best] / peers[best_peer] if best and best_peer else None
    summary = dict(name=name, macs=macs, best=best, best_s=fc.get(best), peers=peers,
                   best_peer=best_peer, ratio=ratio, ok=ok)
    return rows, summary, ok


# Table columns: (title, width); a negative width left-aligns.
_CASE_COLUMNS = (("case", -16), ("backend", -8), ("median ms", 10), ("min ms", 10),
                 ("GFLOP/s", 8), ("check (rel err)", -1))
PEER_NAMES = ("torch", "onnxruntime", "openvino")


def _use_threads(n):
    """fastconv and BLAS (fastconv's 'im2col') on n threads (a threadpoolctl
    limit stays in force until the next one)."""
    fastconv.set_num_threads(n)
    _blas_limits(n)


def _run_scaling(names, dtype, algorithms, repeat, settle, threads):
    """`--scaling`: per case, fastconv's algorithms at 1 thread and at `threads`,
    all in the same shuffled rounds (so a slow spell of the machine hits both
    counts alike); the speed-up is the 1-thread median of the fastest algorithm
    at 1 thread over the N-thread median of the fastest at N."""
    counts = sorted({1, threads})
    print(f"bench --scaling: {len(names)} case(s), {dtype.name}, fastconv at "
          f"{' and '.join(map(str, counts))} thread(s), median of {repeat} interleaved rounds "
          f"(each backend: {settle * 1e3:g} ms untimed, then {TIMED_PER_ROUND} timed calls)")
    columns = [("case", -16), ("1 thread", -8), ("ms", 9), (f"{threads} threads", -9),
               ("ms", 9), ("speed-up", 8)]
    print(_row([title for title, _ in columns], columns))
    slower, speedups = [], []
    try:
        for name in names:
            work = Workload(name, dtype)
            calls, prepare = {}, {}
            for alg in work.backends(algorithms):
                call = work.fastconv(alg)
                try:
                    call()
                except ValueError:  # the algorithm does not apply to this shape
                    continue
                for n in counts:
                    calls[f"{alg}@{n}"] = call
                    prepare[f"{alg}@{n}"] = functools.partial(_use_threads, n)
            med = {b: statistics.median(t)
                   for b, t in _time_rounds(calls, repeat, settle, prepare).items()}
            best = {n: min((b for b in med if b.endswith(f"@{n}")), key=med.get)
                    for n in counts}
            one, many = med[best[1]], med[best[threads]]
            speedups.append(one / many)
            if many > one:
                slower.append(name)
            print(_row([name, best[1].partition("@")[0], f"{one * 1e3:.3f}",
                        best[threads].partition("@")[0], f"{many * 1e3:.3f}",
                        f"{one / many:.2f}"], columns), flush=True)
    finally:
        _use_threads(threads)
    if speedups:
        geomean = math.exp(sum(map(math.log, speedups)) / len(speedups))
        print(f"speed-up: geometric mean {geomean:.2f}, lowest {min(speedups):.2f}; slower on "
              f"{threads} threads than on 1: " + (", ".join(slower) if slower else "none"))
    return 0


def _onnx_importable():
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _print_summary(summaries, peers, gemm_rate):
    """Per case: fastconv's fastest backend, each peer's median, the ratio to
    the best peer (< 1: fastconv is faster), GFLOP/s and the share of the
    machine's sgemm rate; then the geometric mean of the ratios."""
    columns = [("case", -16), ("MACs", 6), ("best", -8), ("best ms", 9)]
    columns += [(f"{p[:8]} ms", 11) for p in peers]
    columns += [("ratio", 6), ("GFLOP/s", 8)] + ([("% sgemm", 7)] if gemm_rate else [])
    print("summary: fastconv's fastest backend" + (
        f" vs the best of {', '.join(peers)} (ratio = fastconv / best peer, median times; "
        "< 1: fastconv is faster)" if peers else ""))
    print(_row([title for title, _ in columns], columns))

    def ms(seconds):
        return "-" if seconds is None else f"{seconds * 1e3:.3f}"

    ratios, suite_ratios = [], []
    for s in summaries:
        gflops = (2 * s["macs"] / s["best_s"] / 1e9
                  if s["macs"] is not None and s["best_s"] else None)
        cells = [s["name"], "-" if s["macs"] is None else _fmt_count(s["macs"]),
                 s["best"] or "-", ms(s["best_s"])]
        cells += [ms(s["peers"].get(p)) + ("*" if p == s["best_peer"] and len(peers) > 1
                                           else "") for p in peers]
        cells += ["-" if s["ratio"] is None else f"{s['ratio']:.2f}",
                  "-" if gflops is None else f"{gflops:.1f}"]
        if gemm_rate:
            cells.append("-" if gflops is None else f"{100 * gflops / gemm_rate:.0f}")
        if s["ratio"] is not None:
            ratios.append(s["ratio"])
            if s["name"] in SUITE:
                suite_ratios.append(s["ratio"])
        print(_row(cells, columns) + ("" if s["ok"] else "  CHECK FAILED"))

    def geomean(rs):
        return math.exp(sum(math.log(r) for r in rs) / len(rs))
    if len(ratios) > 1:
        print(f"geometric mean of the ratios over {len(ratios)} cases: {geomean(ratios):.2f}; "
              f"worst {max(ratios):.2f}" + ("  (* = best peer)" if len(peers) > 1 else ""))
    if len(suite_ratios) > 1 and len(suite_ratios) != len(ratios):
        print(f"  over the {len(suite_ratios)} cases of the performance suite (--suite): "
              f"{geomean(suite_ratios):.2f}; worst {max(suite_ratios):.2f}")


def _row(cells, columns):
    return "  ".join(f"{c:{'<' if w < 0 else '>'}{abs(w)}}"
                     for c, (_, w) in zip(cells, columns)).rstrip()


def run(args):
    filters = _split(args.filter)
    names = _select_cases(filters, args.all, args.suite)
    if not names:
        print(f"bench: no case matches {filters}; cases are: {', '.join(CASES)}",
              file=sys.stderr)
        return 2
    algorithms = _split(args.algorithms) or list(fastconv.ALGORITHMS)
    unknown = [a for a in algorithms if a not in fastconv.ALGORITHMS]
    if unknown:
        print(f"bench: unknown algorithm(s) {unknown}; this build offers "
              f"{', '.join(fastconv.ALGORITHMS)}", file=sys.stderr)
        return 2
    repeat = args.repeat if args.repeat is not None else (QUICK_REPEAT if args.quick else 11)
    if args.quick:
        names = names[:1]
    threads = args.threads if args.threads is not None else fastconv.get_num_threads()
    if threads < 1 or repeat < 1:
        print("bench: --threads and --repeat must be >= 1", file=sys.stderr)
        return 2

    if args.scaling:
        return _run_scaling(names, np.dtype(args.dtype), algorithms, repeat,
                            args.settle / 1e3, threads)
    fastconv.set_num_threads(threads)
    torch = _import_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    limiter, blas_note = _blas_limits(threads)
    onnx_peers, gemm_rate = (), None
    if args.compare:
        from fastconv import _peers
        onnx_peers = _peers.available()
        if onnx_peers and not _onnx_importable():
            print("bench --compare: the onnx package is needed to build the peers' graphs "
                  "(pip install onnx)", file=sys.stderr)
            onnx_peers = ()

    fastconv.show_config()
    users = "fastconv" + (", BLAS" if limiter is not None else "") + (
        ", torch" if torch is not None else "") + "".join(", " + p for p in onnx_peers)
    print(f"bench: {len(names)} case(s), {args.dtype}, {threads} thread(s) "
          f"({users}), median of {repeat} interleaved rounds")
    print("  torch: " + (f"{torch.__version__}, reference = torch float64" if torch is not None
                         else "not installed, reference = fastconv direct float64"))
    if args.compare:
        from fastconv import _peers
        found = _peers.versions()
        print("  peers: " + (", ".join(f"{k} {v}" for k, v in found.items()) or "none installed")
              + "; forward cases as one-layer ONNX graphs (opset "
              f"{_peers.OPSET}); OpenVINO at f32 inference precision")
        gemm_rate = _peers.sgemm_rate(threads)
        print(f"  machine: sgemm {gemm_rate:.0f} GFLOP/s at {threads} thread(s) "
              "(SciPy BLAS, 1536^3, best of 5)")
    if blas_note:
        print("  " + blas_note)
    print("  check: max|y - ref| / max|ref| <= 16 * eps * sqrt(reduction length)"
          " (per result of backward ops)")
    print("  backward cases: fastconv's *_backward call vs torch.autograd.grad of a "
          "forward graph built once")
    print("  max pool backward: both sides route the argmax indices their untimed forward "
          "saved (fastconv: indices=)")
    print(f"  per round, in a shuffled order: each backend runs {args.settle:g} ms untimed, "
          f"then {TIMED_PER_ROUND} timed calls (their median is the round's sample); "
          "median ms = median over rounds")
    print()

    print(_row([title for title, _ in _CASE_COLUMNS], _CASE_COLUMNS))
    print("-" * 80)
    summaries, all_ok, t_start = [], True, time.perf_counter()
    try:
        for name in names:
            rows, summary, ok = _run_case(name, np.dtype(args.dtype), algorithms, torch,
                                          repeat, args.settle / 1e3, onnx_peers, threads)
            all_ok &= ok
            summaries.append(summary)
            for i, row in enumerate(rows):
                print(_row((name if i == 0 else "",) + row, _CASE_COLUMNS))
            sys.stdout.flush()  # progress, when piped
    finally:
        if limiter is not None:
            limiter.restore_original_limits()

    print()
    _print_summary(summaries, [p for p in PEER_NAMES if p == "torch" and torch is not None
                               or p in onnx_peers], gemm_rate)
    print(f"\n{time.perf_counter() - t_start:.1f} s"
          + ("" if all_ok else "; some results did not match the reference (see above)"))
    return 0 if all_ok else 1
