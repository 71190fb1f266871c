"""Peers for ``python -m fastconv bench --compare``: ONNX Runtime and OpenVINO.

Each forward case of the bench suite is written as a one-layer ONNX graph
(built with the ``onnx`` package's helpers, the weights as initializers) and
run by onnxruntime's CPU provider and by OpenVINO's CPU plugin, both limited
to the bench's thread count.  OpenVINO is forced to f32 inference precision:
on CPUs with AMX or AVX512-BF16 its default is bf16, which would be a
different (less accurate) computation.  All three packages are optional;
a peer that is not installed, or a case the ONNX operator set cannot express
exactly (adaptive pooling with uneven bins), is reported as n/a.
"""
import math
import os
import tempfile

import numpy as np

OPSET = 19  # Pad 'wrap' (circular) needs opset 19

PEERS = ("onnxruntime", "openvino")


class NotExpressible(Exception):
    """The case has no exact one-graph ONNX form."""


def _ntuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


class _Graph:
    """A linear ONNX graph under construction: one input 'x', initializers."""

    def __init__(self, onnx, dtype):
        self.onnx, self.helper = onnx, onnx.helper
        self.dtype = np.dtype(dtype)
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, array, dtype=None):
        self.count += 1
        name = f"c{self.count}"
        array = np.asarray(array, dtype=dtype or self.dtype)
        self.inits.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, **attrs):
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], **attrs))
        return out

    def model(self, x_shape, out_name, out_shape):
        h = self.helper
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        graph = h.make_graph(self.nodes, "layer",
                             [h.make_tensor_value_info("x", elem, list(x_shape))],
                             [h.make_tensor_value_info(out_name, elem, list(out_shape))],
                             self.inits)
        return h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)])


def _pad_node(g, x, pairs, mode):
    """ONNX Pad of the spatial axes; pairs are (before, after) per axis."""
    onnx_mode = {"zeros": "constant", "constant": "constant", "reflect": "reflect",
                 "replicate": "edge", "circular": "wrap"}[mode]
    pads = [0, 0, *(b for b, _ in pairs), 0, 0, *(a for _, a in pairs)]
    return g.node("Pad", [x, g.const(pads, np.int64)], mode=onnx_mode)


def _conv_nodes(g, family, case, x, w, b, groups=None):
    kernel, stride, dilation, pairs = family._geometry(case)
    mode = case.kwargs.get("padding_mode", "zeros")
    if mode != "zeros":
        x = _pad_node(g, x, pairs, mode)
        pairs = [(0, 0)] * len(pairs)
    pads = [bf for bf, _ in pairs] + [af for _, af in pairs]
    return g.node("Conv", [x, g.const(w), g.const(b)], kernel_shape=list(kernel),
                  strides=list(stride), dilations=list(dilation), pads=pads,
                  group=groups or case.kwargs.get("groups", 1))


def _shuffle_nodes(g, y, shape, groups):
    n, c, *sp = shape
    y = g.node("Reshape", [y, g.const([n, groups, c // groups, *sp], np.int64)])
    y = g.node("Transpose", [y], perm=[0, 2, 1, *range(3, 3 + len(sp))])
    return g.node("Reshape", [y, g.const(list(shape), np.int64)])


def _pool_geometry(case, nd):
    kw = case.kwargs
    kernel = _ntuple(kw["kernel_size"], nd)
    stride = _ntuple(kw.get("stride") or kw["kernel_size"], nd)
    pad = _ntuple(kw.get("padding", 0), nd)
    return dict(kernel_shape=list(kernel), strides=list(stride), pads=list(pad) * 2,
                ceil_mode=int(kw.get("ceil_mode", False)))


def build_model(case, family, arrays):
    """An onnx ModelProto computing the forward case on input 'x' (arrays[0]);
    raises NotExpressible or ImportError."""
    import onnx
    from fastconv import _bench
    x = arrays[0]
    g = _Graph(onnx, x.dtype)
    nd = x.ndim - 2
    op, kw = case.op, case.kwargs
    if isinstance(family, _bench._Backward):
        raise NotExpressible("backward cases compare with torch autograd only")
    if op in ("conv1d", "conv2d", "conv3d", "conv2d_shuffle"):
        y = _conv_nodes(g, family, case, "x", arrays[1], arrays[2])
        if op == "conv2d_shuffle":
            y = _shuffle_nodes(g, y, family.out_shape(case), case.shape["shuffle"])
    elif op.startswith("conv_transpose"):
        knl = _ntuple(case.shape["kernel_size"], nd)
        y = g.node("ConvTranspose", ["x", g.const(arrays[1]), g.const(arrays[2])],
                   kernel_shape=list(knl), strides=list(_ntuple(kw.get("stride", 1), nd)),
                   pads=list(_ntuple(kw.get("padding", 0), nd)) * 2,
                   output_padding=list(_ntuple(kw.get("output_padding", 0), nd)),
                   dilations=list(_ntuple(kw.get("dilation", 1), nd)),
                   group=kw.get("groups", 1))
    elif op == "depthwise_conv2d":
        y = _conv_nodes(g, family, family._dw_case(case), "x", arrays[1], arrays[2])
    elif op == "separable_conv2d":
        _, dw, pw, db, pb = arrays
        y = _conv_nodes(g, family, family._dw_case(case), "x", dw, db)
        y = g.node("Conv", [y, g.const(pw), g.const(pb)], kernel_shape=[1, 1])
    elif op in ("max_pool2d", "max_pool3d"):
        y = g.node("MaxPool", ["x"], dilations=list(_ntuple(kw.get("dilation", 1), nd)),
                   **_pool_geometry(case, nd))
    elif op == "avg_pool2d":
        y = g.node("AveragePool", ["x"], count_include_pad=int(kw.get("count_include_pad", True)),
                   **_pool_geometry(case, nd))
    elif op == "adaptive_avg_pool2d":
        size, out = case.shape["size"], _ntuple(kw["output_size"], nd)
        if any(i % o for i, o in zip(size, out)):
            raise NotExpressible("uneven adaptive bins have no ONNX operator")
        k = [i // o for i, o in zip(size, out)]
        y = g.node("AveragePool", ["x"], kernel_shape=k, strides=k)
    elif op == "global_avg_pool":
        y = g.node("GlobalAveragePool", ["x"])
        y = g.node("Reshape", [y, g.const(list(x.shape[:2]), np.int64)])
    elif op == "upsample":
        mode = kw["mode"]
        scales = [1.0, 1.0, *_ntuple(kw["scale_factor"], nd)]
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                     nearest_mode="floor")
        if mode != "nearest":
            attrs = dict(mode="linear", coordinate_transformation_mode=(
                "align_corners" if kw.get("align_corners") else "pytorch_half_pixel"))
        y = g.node("Resize", ["x", "", g.const(scales, np.float32)], **attrs)
    elif op == "pad":
        p = kw["pad"]
        pairs = [(p, p)] * nd if isinstance(p, int) else [tuple(v) for v in p]
        y = _pad_node(g, "x", pairs, kw.get("mode", "zeros"))
    elif op == "channel_shuffle":
        y = _shuffle_nodes(g, "x", x.shape, kw["groups"])
    else:
        raise NotExpressible(f"no ONNX form written for {op}")
    out_shape = np.shape(family.fastconv_call(case, arrays, "auto")())
    model = g.model(x.shape, y, out_shape)
    onnx.checker.check_model(model)
    return model


def available():
    """Names of the peers that import."""
    names = []
    for name in PEERS:
        try:
            __import__(name)
        except ImportError:
            continue
        names.append(name)
    return names


def versions():
    out = {}
    for name in available():
        module = __import__(name)
        out[name] = getattr(module, "__version__", None) or module.get_version()
    return out


def onnxruntime_call(model, x, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    feed = {"x": x}
    return lambda: session.run(None, feed)[0]


def openvino_call(model, x, threads):
    import openvino as ov
    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        ov_model = core.read_model(path)
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
              "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    compiled = core.compile_model(ov_model, "CPU", config)
    precision = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    if "f32" not in precision.lower() and "float32" not in precision.lower():
        raise RuntimeError(f"OpenVINO did not accept f32 precision (got {precision})")
    request = compiled.create_infer_request()
    return lambda: request.infer({0: x})[0]


def peer_calls(case, family, arrays, threads, names):
    """{peer: zero-argument call or the reason it is n/a} for the given peers."""
    try:
        model = build_model(case, family, arrays)
    except (NotExpressible, ImportError) as exc:
        return {name: f"n/a: {exc}" for name in names}
    x = np.ascontiguousarray(arrays[0])
    makers = {"onnxruntime": onnxruntime_call, "openvino": openvino_call}
    calls = {}
    for name in names:
        try:
            calls[name] = makers[name](model, x, threads)
        except Exception as exc:  # a peer that rejects the graph is n/a, not a crash
            calls[name] = f"n/a: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return calls


def sgemm_rate(threads, size=1536, repeat=5):
    """The machine's float32 GEMM rate in GFLOP/s (best of `repeat`), through
    SciPy's BLAS with its threads limited to `threads` (when threadpoolctl is
    installed).  The yardstick for 'percent of the machine'."""
    from scipy.linalg.blas import sgemm
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=threads, user_api="blas")
    except ImportError:
        limiter = None
    import time
    try:
        rng = np.random.default_rng(0)
        a = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
        b = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
        sgemm(1.0, a, b)
        best = math.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            sgemm(1.0, a, b)
            best = min(best, time.perf_counter() - t0)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    return 2 * size ** 3 / best / 1e9
