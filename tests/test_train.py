"""fastconv.train: training steps against a plain-NumPy re-implementation of the
same small CNN (and torch when installed), fit/evaluate/predict behaviour,
early stopping, save/load, and the digits demo's accuracy."""
import io

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import fastconv
from fastconv import nn, optim, train

LR, MOMENTUM, STEPS = 0.1, 0.9, 3


# -- a small CNN: conv(3x3, pad 1) -> relu -> maxpool(2) -> flatten -> linear ----
def small_cnn(seed, dtype=np.float64, c_in=2, c_mid=3, size=6, classes=5):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(c_in, c_mid, 3, padding=1, dtype=dtype, rng=rng), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(c_mid * (size // 2) ** 2, classes, dtype=dtype, rng=rng))


def reference_step(params, x, y):
    """Loss and gradients of the small CNN, written out with NumPy (einsum
    convolution, explicit first-maximum pooling, softmax cross-entropy)."""
    w1, b1, w2, b2 = params["0.weight"], params["0.bias"], params["4.weight"], params["4.bias"]
    n, _, h, w = x.shape
    # convolution: windows (n, c, h, w, 3, 3) of the zero-padded input
    windows = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3),
                                  axis=(2, 3))
    z = np.einsum("nchwij,ocij->nohw", windows, w1) + b1[None, :, None, None]
    a = np.maximum(z, 0)
    # 2x2 max pooling: the first maximum of each window wins
    c = a.shape[1]
    blocks = a.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    winner = blocks.argmax(axis=-1)
    pooled = blocks.max(axis=-1)
    flat = pooled.reshape(n, -1)
    logits = flat @ w2.T + b2
    # mean cross-entropy and its gradient
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    d_logits = p.copy()
    d_logits[np.arange(n), y] -= 1
    d_logits /= n
    grads = {"4.weight": d_logits.T @ flat, "4.bias": d_logits.sum(axis=0)}
    d_pooled = (d_logits @ w2).reshape(pooled.shape)
    d_blocks = np.zeros(blocks.shape)
    np.put_along_axis(d_blocks, winner[..., None], d_pooled[..., None], axis=-1)
    d_a = d_blocks.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    d_z = d_a.reshape(a.shape) * (z > 0)
    grads["0.weight"] = np.einsum("nchwij,nohw->ocij", windows, d_z)
    grads["0.bias"] = d_z.sum(axis=(0, 2, 3))
    return loss, grads


def reference_sgd(params, batches):
    """STEPS steps of SGD with momentum (torch's rule: b = m*b + g, p -= lr*b)."""
    params = {k: v.copy() for k, v in params.items()}
    buffers = {}
    losses = []
    for x, y in batches:
        loss, grads = reference_step(params, x, y)
        losses.append(loss)
        for k, g in grads.items():
            buffers[k] = g.copy() if k not in buffers else MOMENTUM * buffers[k] + g
            params[k] = params[k] - LR * buffers[k]
    return params, losses


def training_batches(rng, n=8, c_in=2, size=6, classes=5):
    return [(rng.standard_normal((n, c_in, size, size)), rng.integers(0, classes, n))
            for _ in range(STEPS)]


def fastconv_sgd(model, batches):
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss = nn.CrossEntropyLoss()
    losses = []
    for x, y in batches:
        opt.zero_grad()
        losses.append(loss(model(x), y))
        model.backward(loss.backward(), need_input=False)
        opt.step()
    return losses


def snapshot(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


def test_three_sgd_steps_match_numpy_reference(rng):
    model = small_cnn(1)
    start = snapshot(model)
    batches = training_batches(rng)
    losses = fastconv_sgd(model, batches)
    want, want_losses = reference_sgd(start, batches)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-12)
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value, want[key], rtol=1e-10, atol=1e-12, err_msg=key)
        assert not np.allclose(value, start[key]), f"{key} did not move"


def test_three_sgd_steps_match_torch(rng):
    torch = pytest.importorskip("torch")
    model = small_cnn(2)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(27, 5)).double()
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in snapshot(model).items()})
    batches = training_batches(rng)
    fastconv_sgd(model, batches)
    topt = torch.optim.SGD(tmodel.parameters(), lr=LR, momentum=MOMENTUM)
    for x, y in batches:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)),
                                          torch.from_numpy(y)).backward()
        topt.step()
    for key, value in tmodel.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=key)


# -- fit -------------------------------------------------------------------------
def bars(n, seed, noise=0.3):
    """A 3-class problem: 1x6x6 images with a bright row, column or diagonal, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = noise * rng.standard_normal((n, 1, 6, 6))
    for i, label in enumerate(y):
        k = rng.integers(1, 5)
        if label == 0:
            x[i, 0, k, :] += 1
        elif label == 1:
            x[i, 0, :, k] += 1
        else:
            x[i, 0] += np.eye(6)
    return x.astype(np.float32), y


def bars_cnn(seed, dropout=0.0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(dropout, rng=rng), nn.Linear(36, 3, rng=rng))


def fit_bars(model, epochs=6, **kw):
    x, y = bars(96, 0)
    opt = optim.Adam(model.parameters(), lr=0.02)
    kw.setdefault("metrics", [nn.metrics.accuracy])
    return train.fit(model, nn.CrossEntropyLoss(), opt, x, y, epochs, 16, **kw)


def test_fit_lowers_the_loss_and_reports_every_epoch():
    history = fit_bars(bars_cnn(0), epochs=8, validation_data=bars(48, 1))
    loss = history["loss"]
    assert loss[-1] < 0.3 * loss[0], loss
    assert history["accuracy"][-1] >= 0.9 and history["val_accuracy"][-1] >= 0.9
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr",
                                     "seconds"]
    assert history.epochs == 8 and all(len(v) == 8 for v in history.history.values())
    assert all(s > 0 for s in history["seconds"])


def test_fit_epoch_loss_is_the_mean_over_samples():
    """With lr so small the weights barely move, the epoch's loss equals the
    loss of the whole training set computed at once (batches of unequal size
    weighted by their length)."""
    x, y = bars(50, 2)
    model = bars_cnn(3)
    before = train.evaluate(model, nn.CrossEntropyLoss(), x, y)["loss"]
    opt = optim.SGD(model.parameters(), lr=1e-12)
    history = train.fit(model, nn.CrossEntropyLoss(), opt, x, y, 1, 16)
    assert history["loss"][0] == pytest.approx(before, rel=1e-6)


def test_fit_is_repeatable_with_a_seed_and_shuffles_by_it():
    a, b, c = bars_cnn(5), bars_cnn(5), bars_cnn(5)
    ha, hb, hc = fit_bars(a, 2, seed=7), fit_bars(b, 2, seed=7), fit_bars(c, 2, seed=8)
    assert ha["loss"] == hb["loss"]
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key])
    assert ha["loss"] != hc["loss"]


def test_fit_steps_the_scheduler_once_per_epoch():
    model = bars_cnn(0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    history = train.fit(model, nn.CrossEntropyLoss(), opt, *bars(32, 0), epochs=5,
                        batch_size=16, scheduler=sched)
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert opt.lr == 0.1 * 0.5 ** (5 // 2)  # after the 5th step


def test_fit_times_each_layer_and_removes_its_timers():
    model = bars_cnn(0)
    history = fit_bars(model, epochs=1)
    assert list(history.layer_times) == [str(i) for i in range(len(model))]
    assert all(t["forward"] > 0 and t["backward"] >= 0 for t in history.layer_times.values())
    assert history.layer_times["0"]["backward"] > 0
    assert all("forward" not in layer.__dict__ and "backward" not in layer.__dict__
               for layer in model)


def test_early_stopping_stops_and_restores_the_best_weights():
    """A validation metric scripted to peak at epoch 1: with patience 2, fit
    stops after epoch 3 and restores the weights it had after epoch 1."""
    scripted = iter([0.5, 0.9, 0.8, 0.85, 0.95, 0.99])

    def score(output, target):  # scripted on the 20 validation samples only
        return next(scripted) if len(target) == 20 else 0.0

    model = bars_cnn(0)
    weights = []
    history = fit_bars(model, epochs=6, metrics={"score": score},
                       validation_data=bars(20, 1),
                       early_stopping=train.EarlyStopping(patience=2, monitor="val_score"),
                       on_epoch_end=lambda epoch, logs: weights.append(snapshot(model)))
    assert history.epochs == 4 and history.stopped_early and history.best_epoch == 1
    assert history["val_score"] == [0.5, 0.9, 0.8, 0.85]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, weights[1][key])
    assert not np.array_equal(model.state_dict()["0.weight"], weights[3]["0.weight"])


def test_early_stopping_monitor_needs_validation_data():
    with pytest.raises(ValueError, match="val_accuracy"):
        fit_bars(bars_cnn(0), early_stopping=train.EarlyStopping(monitor="val_accuracy"))


def test_early_stopping_without_improvement_stops_after_patience():
    """A frozen model never improves: fit runs 1 + patience epochs."""
    model = bars_cnn(0).freeze()
    history = fit_bars(model, epochs=10, early_stopping=train.EarlyStopping(
        patience=3, monitor="loss"))
    assert history.epochs == 4 and history.stopped_early and history.best_epoch == 0


# -- evaluate, predict, save/load --------------------------------------------------
def test_predict_in_batches_equals_one_shot_and_restores_the_mode():
    model = bars_cnn(0, dropout=0.5)
    x, _ = bars(37, 3)
    model.eval()
    whole = model(x)
    model.train()
    batched = train.predict(model, x, batch_size=5)
    assert model.training
    np.testing.assert_allclose(batched, whole, rtol=1e-6, atol=1e-7)
    assert batched.shape == (37, 3)


def test_evaluate_matches_loss_and_metric_on_all_outputs():
    model = bars_cnn(1)
    x, y = bars(30, 4)
    got = train.evaluate(model, nn.CrossEntropyLoss(), x, y, batch_size=7,
                         metrics={"acc": nn.metrics.accuracy})
    out = model.eval()(x)
    assert got["loss"] == pytest.approx(nn.CrossEntropyLoss()(out, y), rel=1e-6)
    assert got["acc"] == nn.metrics.accuracy(out, y)


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    model = bars_cnn(0)
    fit_bars(model, epochs=2)
    path = train.save(model, tmp_path / "weights")
    assert path == str(tmp_path / "weights.npz")
    with np.load(path) as archive:
        assert sorted(archive.files) == sorted(model.state_dict())
    other = bars_cnn(99)
    x, _ = bars(20, 5)
    assert not np.array_equal(train.predict(other, x), train.predict(model, x))
    train.load(other, path)
    np.testing.assert_array_equal(train.predict(other, x), train.predict(model, x))
    with pytest.raises(KeyError, match="missing"):
        train.load(small_cnn(0), path)


# -- progress and input checks ----------------------------------------------------------
def test_progress_bar_is_quiet_off_a_terminal(capsys):
    fit_bars(bars_cnn(0), epochs=1)
    assert capsys.readouterr().err == ""
    fit_bars(bars_cnn(0), epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2: loss" in err


def test_progress_bar_draws_on_request_only():
    stream = io.StringIO()
    bar = train.ProgressBar(3, "work", stream=stream)
    bar.update(3)
    bar.close("done")
    assert stream.getvalue() == ""
    bar = train.ProgressBar(3, "work", enabled=True, stream=stream)
    bar.update(3, loss=0.5)
    bar.close("done")
    assert "3/3" in stream.getvalue() and "loss 0.5000" in stream.getvalue()
    assert stream.getvalue().endswith("work: done\033[K\n")


def test_fit_raises_on_a_non_finite_loss():
    class NaNLoss(nn.CrossEntropyLoss):
        def forward(self, logits, target):
            super().forward(logits, target)
            return float("nan")

    model = bars_cnn(0)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train.fit(model, NaNLoss(), optim.SGD(model.parameters(), lr=0.1), *bars(16, 0))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(validation_data=np.zeros(3)), ValueError, "validation_data"),
    (dict(metrics={"loss": nn.metrics.accuracy}), ValueError, "reserved"),
    (dict(metrics=[3]), TypeError, "callable"),
])
def test_fit_bad_arguments(kwargs, error, match):
    model = bars_cnn(0)
    x, y = bars(8, 0)
    with pytest.raises(error, match=match):
        train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), x, y,
                  **kwargs)


def test_fit_rejects_mismatched_lengths():
    model = bars_cnn(0)
    x, y = bars(8, 0)
    with pytest.raises(ValueError, match=r"x has 8 samples but y has 7"):
        train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), x,
                  y[:7])


# -- the command line: python -m fastconv train / summary ---------------------------
def test_digits_demo_reaches_the_target_on_the_held_out_split(restore_threads):
    """The demo's real training (default settings, one thread as the command
    uses) on the fixed split."""
    pytest.importorskip("sklearn")
    from fastconv import _bench, _demo
    fastconv.set_num_threads(1)
    limiter, _ = _bench._blas_limits(1)  # BLAS (the im2col GEMMs) on one thread too
    try:
        result = _demo.train_digits(progress=False)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    assert result.n_test == 359 and result.n_train == 1438
    assert result.accuracy >= _demo.TARGET_ACCURACY, result.history["val_accuracy"]


def test_digits_split_is_fixed_and_stratified():
    pytest.importorskip("sklearn")
    from fastconv import datasets
    (x1, y1), (xt1, yt1) = datasets.load_digits()
    (x2, y2), (xt2, yt2) = datasets.load_digits()
    np.testing.assert_array_equal(xt1, xt2)
    assert x1.shape == (1438, 1, 8, 8) and x1.dtype == np.float32 and 0 <= x1.min() <= x1.max() <= 1
    counts, test_counts = np.bincount(y1), np.bincount(yt1)
    np.testing.assert_array_equal(test_counts, np.round(0.2 * (counts + test_counts)))


def test_stratified_split_keeps_each_class_share():
    from fastconv import datasets
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    train_idx, test_idx = datasets.stratified_split(labels, 0.2, seed=3)
    assert np.bincount(labels[test_idx]).tolist() == [2, 4, 6]
    assert sorted(np.concatenate([train_idx, test_idx]).tolist()) == list(range(60))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.stratified_split(labels, 1.0, seed=0)


def test_train_command_prints_results_and_saves_weights(tmp_path, capsys, restore_threads):
    pytest.importorskip("sklearn")
    from fastconv import _demo
    from fastconv.__main__ import main
    out = tmp_path / "w.npz"
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for expected in ("epoch  1/1: loss", "Total params: 7,178", "time spent per layer",
                     "test accuracy:", f"weights saved to {out}"):
        assert expected in text
    model = train.load(_demo.digits_cnn(), out)
    assert model[0].weight.shape == (8, 1, 3, 3)


def test_train_command_plot(tmp_path, capsys, monkeypatch, restore_threads):
    pytest.importorskip("sklearn")
    from fastconv import _demo
    from fastconv.__main__ import main
    monkeypatch.setattr(_demo, "_pyplot", lambda: None)  # as if matplotlib were missing
    assert main(["train", "--plot", str(tmp_path / "p.png")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "w"), "--plot",
                 str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name, expected", [
    ("vgg16", "Total params: 138,357,544"), ("digits", "Total params: 7,178"),
    ("lenet5", "Total params: 61,706")])
def test_summary_command(name, expected, capsys):
    from fastconv.__main__ import main
    assert main(["summary", name]) == 0
    assert expected in capsys.readouterr().out


def test_summary_command_bad_input(capsys):
    from fastconv.__main__ import main
    assert main(["summary", "nosuchnet"]) == 2
    assert "vgg16" in capsys.readouterr().err
    assert main(["summary", "digits", "--input-shape", "1,x"]) == 2
    assert main(["summary", "digits", "--input-shape", "3,8,8"]) == 2
    assert "input shape" in capsys.readouterr().err
