"""Which convolution algorithm runs: applicability of each, the 'auto' rule
(a pure function of the validated ConvSpec), and the choices recorded by
fastconv.autotune, which 'auto' prefers when one exists for the call."""
import threading

ALGORITHMS = ("direct", "gemm", "im2col", "winograd")

# fastconv.autotune's measured choices: (opname, spec, dtype, threads) -> algorithm.
_tuned = {}
_tuned_lock = threading.Lock()
# autotune learns a call's key by running it once with a probe list set here
# (per Python thread, so concurrent callers never see each other's probes).
_local = threading.local()

_BLAS_INT_MAX = 2**31 - 1


def im2col_applicable(spec):
    """BLAS takes 32-bit sizes: the GEMM's dimensions and leading dims must fit."""
    k = spec.c_in // spec.groups * spec.kernel[0] * spec.kernel[1] * spec.kernel[2]
    p = spec.out_size[0] * spec.out_size[1] * spec.out_size[2]
    i = spec.in_size[0] * spec.in_size[1] * spec.in_size[2]
    return max(k, p, i, spec.c_out) <= _BLAS_INT_MAX


def is_pointwise(spec):
    """1x1(x1) kernel, no padding: the input (subsampled when strided) is the
    GEMM's right-hand matrix, no im2col needed."""
    return (spec.kernel == (1, 1, 1)
            and not any(spec.pad_before) and not any(spec.pad_after))


def is_depthwise(spec):
    """One input channel per group (groups == C_in > 1), any channel multiplier:
    'direct' runs the depthwise kernels (fastconv.depthwise_conv2d's), which
    vectorise along each plane's rows; the grouped kernels' register tiles of
    output channels would be almost empty (one channel each, or the multiplier)."""
    return spec.groups > 1 and spec.groups == spec.c_in


def is_tiling_transpose(spec):
    """For a transposed convolution's spec: kernel == stride, no dilation or
    padding, no output_padding, so the kernel's footprints tile the output."""
    return (spec.kernel == spec.stride and spec.dilation == (1, 1, 1)
            and not any(spec.pad_before) and not any(spec.pad_after)
            and all(i == o * s for i, o, s in zip(spec.in_size, spec.out_size, spec.stride)))


def winograd_refusal(opname, spec):
    """Why algorithm='winograd' does not apply to this call, or None when it does.

    F(4x4, 3x3) needs a 3x3 kernel with stride 1 along the last two axes (H, W);
    a dilated one runs per polyphase component (fc_winograd.template.c).  A
    3-D call's depth axis may be anything (its taps become reduction channels),
    a 1-D call never fits.  Transposed convolutions have
    no Winograd kernel.  Backward passes use it for the input gradient of zero-
    padded calls (conv._winograd_input_gradient) and run the direct kernels for the rest."""
    if opname.startswith("conv_transpose"):
        return "transposed convolutions have no Winograd kernel"
    kernel, stride = spec.kernel[1:], spec.stride[1:]
    if opname.startswith("conv1d"):
        return "it needs a 2-D or 3-D convolution (a 3x3 kernel along the last two axes)"
    if kernel != (3, 3) or stride != (1, 1):
        return (f"it needs a 3x3 kernel with stride 1 along the last two axes, got kernel "
                f"{kernel}, stride {stride}")
    return None


def auto_algorithm(spec):
    """The rule for algorithm='auto' (see README, "Choosing an algorithm").

    Only fastconv's own OpenMP kernels are chosen, never the BLAS path, so a
    program never alternates between two thread pools.  'gemm' flattens the
    output plane into one long row of positions, so it wins where 'direct'
    would waste vector lanes or panel work: pointwise (1x1) kernels, short
    output rows, and strided 1-D convolutions; 'direct' wins on long rows with
    few channels (e.g. a 16-channel 112x112 layer, the ResNet stem) and on 1-D
    stride-1 convolutions, whose channel rows it reads in place.  A depthwise
    convolution (groups == C_in) takes 'direct', the depthwise kernels: 15x
    faster than the grouped ones on MobileNetV2's 384-channel 14x14 layer.
    """
    pointwise = spec.kernel == (1, 1, 1)
    if is_depthwise(spec) and not pointwise:
        return "direct"
    short_rows = spec.out_size[2] < 32
    strided_1d = (spec.out_size[0] == 1 and spec.out_size[1] == 1
                  and spec.kernel[:2] == (1, 1) and spec.stride[2] != 1)
    return "gemm" if (pointwise or short_rows or strided_1d) else "direct"


def tuning_key(opname, spec, dtype):
    from fastconv._threads import get_num_threads
    return opname, spec, dtype.str, get_num_threads()


def conv_algorithm(opname, spec, algorithm, dtype):
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS + ("auto",):
        raise ValueError(f"{opname}: algorithm must be 'auto' or one of {ALGORITHMS}, "
                         f"got {algorithm!r}")
    if algorithm == "auto":
        probe = getattr(_local, "probe", None)
        if probe is None and not _tuned:
            return auto_algorithm(spec)
        key = tuning_key(opname, spec, dtype)
        if probe is not None:
            probe.append(key)
        return _tuned.get(key) or auto_algorithm(spec)
    if algorithm == "im2col" and not im2col_applicable(spec):
        raise ValueError(f"{opname}: algorithm='im2col' does not apply: a GEMM dimension "
                         "exceeds BLAS's 32-bit integer range; use algorithm='direct'")
    if algorithm == "winograd":
        reason = winograd_refusal(opname, spec)
        if reason:
            raise ValueError(f"{opname}: algorithm='winograd' does not apply: {reason}")
    return algorithm
