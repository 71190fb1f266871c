"""fastconv.nn.metrics against loop references, and Module.summary against
fastconv.analysis and hand-computed figures."""
import math
from fractions import Fraction

import numpy as np
import pytest

import fastconv.nn as nn
from fastconv import analysis
from fastconv.nn import metrics
from ref_nn import confusion_ref, iou_ref, labels_of, top_k_ref


@pytest.fixture
def segmentation(rng):
    scores = rng.standard_normal((3, 4, 5, 6))
    target = rng.integers(0, 4, (3, 5, 6))
    target[0, 0] = 255                                  # an ignored row
    return scores, target


def test_accuracy_and_pixel_accuracy(rng, segmentation):
    scores, target = rng.standard_normal((40, 5)), rng.integers(0, 5, 40)
    pred = labels_of(scores, target)
    assert metrics.accuracy(scores, target) == sum(pred == target) / 40
    assert metrics.accuracy(pred, target) == sum(pred == target) / 40   # labels work too
    seg, t = segmentation
    p = labels_of(seg, t)
    keep = t != 255
    expected = sum(int(a == b) for a, b, k in zip(p.ravel(), t.ravel(), keep.ravel()) if k)
    assert metrics.pixel_accuracy(seg, t, ignore_index=255) == pytest.approx(
        expected / keep.sum(), rel=1e-15)
    with pytest.raises(ValueError, match=r"output shape \(40, 5\) must be the target's "
                                         r"\(39,\)"):
        metrics.accuracy(scores, target[:39])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy(k, rng):
    scores = rng.integers(0, 4, (60, 5)).astype(float)    # many ties
    target = rng.integers(0, 5, 60)
    assert metrics.top_k_accuracy(scores, target, k) == pytest.approx(
        top_k_ref(scores, target, k), rel=1e-15)
    with pytest.raises(ValueError, match="k must be in"):
        metrics.top_k_accuracy(scores, target, 6)


def test_confusion_matrix_and_iou(segmentation):
    scores, target = segmentation
    pred = labels_of(scores, target)
    np.testing.assert_array_equal(metrics.confusion_matrix(scores, target, 4, 255),
                                  confusion_ref(pred, target, 4, 255))
    np.testing.assert_allclose(metrics.jaccard_index(scores, target, 4, 255),
                               iou_ref(pred, target, 4, 255), rtol=1e-15)
    assert metrics.mean_iou(scores, target, 4, 255) == pytest.approx(
        np.mean(iou_ref(pred, target, 4, 255)), rel=1e-15)


def test_iou_of_an_absent_class_is_nan_and_left_out_of_the_mean():
    pred = np.array([0, 0, 1, 1])
    target = np.array([0, 1, 1, 1])
    iou = metrics.jaccard_index(pred, target, 3)
    np.testing.assert_allclose(iou[:2], [1 / 2, 2 / 3])
    assert math.isnan(iou[2])
    assert metrics.mean_iou(pred, target, 3) == pytest.approx((1 / 2 + 2 / 3) / 2)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\)"):
        metrics.confusion_matrix(pred, target, 1)


# ---------------------------------------------------------------- summary ----
def test_summary_of_a_plain_stack_matches_analysis():
    model = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.ReLU(),
                          nn.MaxPool2d(3, 2), nn.Conv2d(8, 16, 3, dilation=2),
                          nn.BatchNorm2d(16), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(16 * 5 * 5, 10))
    s = model.summary((3, 64, 64))
    assert [r.name for r in s.rows] == [str(i) for i in range(8)]
    assert [r.output_shape for r in s.rows] == [
        (8, 32, 32), (8, 32, 32), (8, 15, 15), (16, 11, 11), (16, 11, 11), (16, 5, 5),
        (400,), (10,)]
    conv1 = analysis.conv_macs((3, 64, 64), 8, 5, 2, 2)
    conv2 = analysis.conv_macs((8, 15, 15), 16, 3, 1, 0, 2)
    assert [r.macs for r in s.rows] == [conv1, 0, 0, conv2, 0, 0, 0, 16 * 5 * 5 * 10]
    assert s.total_macs == conv1 + conv2 + 4000
    assert [r.params for r in s.rows] == [608, 0, 0, 1168, 32, 0, 0, 4010]
    assert s.total_params == s.trainable_params == 608 + 1168 + 32 + 4010
    stack = [(5, 2, 1), (3, 2, 1), (3, 1, 2), (2, 2, 1)]
    per_layer = analysis.receptive_field_per_layer(stack)
    rf = [r.receptive_field for r in s.rows]
    assert [r[0] for r in (rf[0], rf[2], rf[3], rf[5])] == per_layer
    assert rf[1] == rf[0] and rf[4] == rf[3] and rf[6] is None and rf[7] is None
    assert s.receptive_field == ((per_layer[-1]),) * 2
    assert s.output_shape == (10,)


def test_summary_table_text_and_frozen_count():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Upsample(
        scale_factor=2), nn.Conv2d(4, 2, (3, 1)))
    model[0].freeze()
    s = model.summary((1, 8, 8))
    text = str(s)
    assert text.splitlines()[0].split() == ["Layer", "Type", "Output", "shape", "Params",
                                            "MACs", "RF", "size", "RF", "jump"]
    assert "Total params: 66 (trainable 26)" in text
    assert f"Total MACs: {4 * 64 * 9 + 2 * 14 * 16 * 4 * 3:,}" in text
    # after a 2x upsample the jump is 1/2 input element; (3, 1) kernel differs per axis
    assert s.rows[2].receptive_field == ((3, Fraction(1, 2)),) * 2
    assert s.receptive_field == ((4, Fraction(1, 2)), (3, Fraction(1, 2)))
    last_row = text.splitlines()[-6].split()
    assert last_row[0] == "3" and last_row[-2:] == ["4x3", "1/2"]
    assert text.splitlines()[-1] == "Receptive field: 4x3 (jump 1/2)"


def test_summary_of_branches_and_transposed_convs():
    skip = nn.Concat(nn.Identity(), nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(2, 3, 3, padding=1),
                                                  nn.ConvTranspose2d(3, 3, 2, stride=2)))
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), skip,
                          nn.Residual(nn.Conv2d(5, 5, 3, padding=1), nn.Conv2d(5, 5, 1)))
    s = model.summary((1, 8, 8))
    names = [r.name for r in s.rows]
    assert names == ["0", "1.0", "1.1.0", "1.1.1", "1.1.2", "1", "2.block", "2.shortcut", "2"]
    rows = dict(zip(names, s.rows))
    assert rows["1"].output_shape == (5, 8, 8) and rows["2"].kind == "Residual (add)"
    # transposed conv: C_in * prod(in) * C_out * prod(k)
    assert rows["1.1.2"].macs == 3 * 16 * 3 * 4
    # 3x3 conv (3, 1); pool 2 -> (4, 2); conv 3 -> (8, 2); 2x2 stride-2 transposed conv
    # reads one input per output -> (8, 1); the concat takes the wider branch
    assert rows["1.1.2"].receptive_field == ((8, 1),) * 2
    assert rows["1"].receptive_field == ((8, 1),) * 2
    assert rows["2"].receptive_field == ((10, 1),) * 2
    assert s.total_macs == sum(r.macs for r in s.rows)
    with pytest.raises(ValueError, match="input_shape must be one sample's"):
        model.summary((2, 1, 8, 8.0))
