"""The one-layer ONNX graphs `python -m fastconv bench --compare` hands to its
peers compute the same layer as fastconv (optional: needs onnx and
onnxruntime; OpenVINO is checked too when installed)."""
import numpy as np
import pytest

from fastconv import _bench, _peers

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

C = _bench._c
SMALL = {
    "conv2d": C("conv2d", dict(stride=2, padding=1, dilation=(1, 2), groups=2), c_in=4, c_out=6,
                size=(9, 10), kernel_size=3),
    "conv2d_reflect": C("conv2d", dict(padding=(1, 2), padding_mode="reflect"), c_in=3,
                        c_out=2, size=(7, 8), kernel_size=(3, 5)),
    "conv2d_circular": C("conv2d", dict(padding=1, padding_mode="circular"), c_in=2, c_out=2,
                         size=(6, 5), kernel_size=3),
    "conv1d": C("conv1d", dict(padding=1), c_in=3, c_out=4, size=(20,), kernel_size=3),
    "conv3d": C("conv3d", dict(padding=1, stride=(1, 2, 2)), c_in=2, c_out=3, size=(4, 6, 6),
                kernel_size=3),
    "conv2d_shuffle": C("conv2d_shuffle", dict(groups=3), c_in=6, c_out=6, size=(4, 5),
                        kernel_size=1, shuffle=3),
    "conv_transpose2d": C("conv_transpose2d", dict(stride=2, padding=1, output_padding=1),
                          c_in=4, c_out=3, size=(5, 6), kernel_size=4),
    "conv_transpose3d": C("conv_transpose3d", dict(stride=2), c_in=2, c_out=3, size=(3, 4, 4),
                          kernel_size=2),
    "depthwise_conv2d": C("depthwise_conv2d", dict(stride=2, padding=1), c_in=5, size=(9, 8),
                          kernel_size=3),
    "separable_conv2d": C("separable_conv2d", dict(padding=1), c_in=4, c_out=6, size=(7, 7),
                          kernel_size=3),
    "max_pool2d": C("max_pool2d", dict(kernel_size=3, stride=2, padding=1), c_in=3,
                    size=(11, 10)),
    "max_pool3d": C("max_pool3d", dict(kernel_size=2, stride=2), c_in=2, size=(4, 6, 6)),
    "avg_pool2d": C("avg_pool2d", dict(kernel_size=3, stride=2, padding=1), c_in=3,
                    size=(11, 10)),
    "adaptive_avg_pool2d": C("adaptive_avg_pool2d", dict(output_size=(3, 2)), c_in=3,
                             size=(9, 8)),
    "global_avg_pool": C("global_avg_pool", None, batch=2, c_in=4, size=(5, 6)),
    "upsample_nearest": C("upsample", dict(scale_factor=2, mode="nearest"), c_in=2, size=(5, 6)),
    "upsample_bilinear": C("upsample", dict(scale_factor=2, mode="bilinear"), c_in=2,
                           size=(5, 6)),
    "upsample_bilinear_ac": C("upsample", dict(scale_factor=2, mode="bilinear",
                                               align_corners=True), c_in=2, size=(5, 6)),
    "pad_reflect": C("pad", dict(pad=2, mode="reflect"), c_in=2, size=(5, 6)),
    "pad_replicate": C("pad", dict(pad=((1, 2), (3, 0)), mode="replicate"), c_in=2,
                       size=(5, 6)),
    "channel_shuffle": C("channel_shuffle", dict(groups=3), c_in=6, size=(3, 4)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_peer_graph_matches_fastconv(name, monkeypatch):
    case = SMALL[name]
    monkeypatch.setitem(_bench.CASES, "peer_test", case)
    work = _bench.Workload("peer_test", np.float32)
    expected = work.fastconv("direct" if work.family.takes_algorithm else None,
                             np.float64)()
    peers = [p for p in _peers.available() if p in _peers.PEERS]
    calls = _peers.peer_calls(case, work.family, work.arrays, 1, peers)
    assert callable(calls["onnxruntime"]), calls["onnxruntime"]
    for peer, call in calls.items():
        if isinstance(call, str):  # OpenVINO lacks some modes (Pad 'wrap'): n/a in the bench
            assert peer == "openvino" and call.startswith("n/a"), f"{peer}: {call}"
            continue
        got = call()
        assert got.shape == expected.shape, peer
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4, err_msg=peer)


def test_uneven_adaptive_bins_are_not_expressible():
    case = C("adaptive_avg_pool2d", dict(output_size=(6, 6)), c_in=2, size=(13, 13))
    family = _bench.FAMILIES[case.op]
    x = np.zeros((1, 2, 13, 13), np.float32)
    with pytest.raises(_peers.NotExpressible):
        _peers.build_model(case, family, [x])
