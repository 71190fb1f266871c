"""``python -m fastconv train`` and ``python -m fastconv summary``.

train: a small CNN learns the 8x8 UCI handwritten digits (shipped with
scikit-learn) on a fixed, stratified 80/20 split, then the command prints
the model summary, the time spent in each layer and the held-out accuracy,
and saves the weights.
"""
import argparse
import os
import sys
import time

import numpy as np

import fastconv
from fastconv import _bench, datasets, nn, optim, train

__all__ = ["digits_cnn", "train_digits", "DigitsResult", "TARGET_ACCURACY", "SPLIT_SEED",
           "add_train_arguments", "run_train", "add_summary_arguments", "run_summary"]

TARGET_ACCURACY = 0.98
SPLIT_SEED = 0          # the held-out split never changes: every run tests on the same images
TEST_FRACTION = 0.2
DEFAULT_EPOCHS = 30
DEFAULT_OUT = "fastconv_digits.npz"


def digits_cnn(rng=None, dtype=np.float32, dropout=0.3, algorithm="im2col"):
    """The demo's CNN for 1x8x8 digits: two 3x3 convolutions (8, 16 channels),
    2x2 max pooling, a 3x3 convolution (32), 2x2 max pooling, dropout and a
    linear layer to 10 classes (7,178 parameters).

    The convolutions use ``algorithm='im2col'``: on planes this small its
    GEMM-based backward is several times faster than the direct kernels that
    'auto' picks.
    """
    rng = np.random.default_rng(rng)

    def conv(c_in, c_out):
        return nn.Conv2d(c_in, c_out, 3, padding=1, algorithm=algorithm, dtype=dtype, rng=rng)

    return nn.Sequential(
        conv(1, 8), nn.ReLU(), conv(8, 16), nn.ReLU(), nn.MaxPool2d(2),
        conv(16, 32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout, rng=rng), nn.Linear(32 * 2 * 2, 10, dtype=dtype,
                                                              rng=rng))


class DigitsResult:
    """What :func:`train_digits` returns: the trained model, the fit history,
    the held-out accuracy, the split sizes and the input normalisation."""

    def __init__(self, model, history, accuracy, n_train, n_test, mean, std):
        self.model, self.history, self.accuracy = model, history, accuracy
        self.n_train, self.n_test, self.mean, self.std = n_train, n_test, mean, std


def train_digits(epochs=DEFAULT_EPOCHS, seed=0, batch_size=16, lr=0.03, progress=None,
                 on_epoch_end=None):
    """Train :func:`digits_cnn` (SGD, Nesterov momentum 0.9, weight decay 5e-4,
    cosine schedule) on the training part of the fixed split and measure its
    accuracy on the held-out part.

    ``seed`` sets the initial weights, dropout and batch order, not the split.
    The inputs are standardised with the training images' mean and standard
    deviation (two numbers, reported in the result).  The held-out images are
    evaluated after every epoch for the curves only: nothing (epochs, schedule,
    weights) is chosen on them.
    """
    (x_train, y_train), (x_test, y_test) = datasets.load_digits(
        TEST_FRACTION, SPLIT_SEED)
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std
    model = digits_cnn(seed)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                    weight_decay=5e-4)
    history = train.fit(model, nn.CrossEntropyLoss(), opt, x_train, y_train, epochs,
                        batch_size, validation_data=(x_test, y_test),
                        scheduler=optim.CosineAnnealingLR(opt, T_max=max(epochs, 1)),
                        metrics=[nn.metrics.accuracy], seed=seed, progress=progress,
                        on_epoch_end=on_epoch_end)
    accuracy = nn.metrics.accuracy(train.predict(model, x_test), y_test)
    return DigitsResult(model, history, accuracy, len(x_train), len(x_test), mean, std)


# ---------------------------------------------------------------- train ----
def add_train_arguments(parser):
    parser.description = ("Train a small CNN on the 8x8 UCI digits (scikit-learn's copy) "
                          "and report its accuracy on a fixed held-out 20 % split.")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.03, help="initial learning rate")
    parser.add_argument("--seed", type=int, default=0,
                        help="initial weights, dropout and batch order (the split is fixed)")
    parser.add_argument("--threads", type=int, default=1,
                        help="fastconv threads (default 1: a batch of sixteen 8x8 images is too "
                             "little work to share, and on a busy machine a second thread "
                             "costs far more in waiting than it saves)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"where to save the weights (default: ./{DEFAULT_OUT})")
    parser.add_argument("--plot", metavar="PNG",
                        help="draw the training curves and the first layer's filters "
                             "(needs matplotlib)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only on a terminal)")


def run_train(args):
    if min(args.epochs, args.batch_size, args.threads) < 1 or not args.lr > 0:
        print("train: --epochs, --batch-size and --threads must be >= 1 and --lr > 0",
              file=sys.stderr)
        return 2
    plt = _pyplot() if args.plot else None
    if args.plot and plt is None:
        print("train: --plot needs matplotlib, which is not installed: pip install "
              "matplotlib", file=sys.stderr)
        return 2
    try:
        import sklearn  # noqa: F401  (load_digits reads scikit-learn's copy)
    except ImportError:
        print("train: the digits come with scikit-learn, which is not installed: "
              'pip install "fastconv[demo]" (or pip install scikit-learn)', file=sys.stderr)
        return 2
    fastconv.set_num_threads(args.threads)
    bar = args.progress if args.progress is not None else sys.stderr.isatty()
    print(f"fastconv {fastconv.__version__}: training a small CNN on the 8x8 UCI digits, "
          f"{args.epochs} epochs, batch {args.batch_size}, {fastconv.get_num_threads()} "
          "thread(s)")

    def log_epoch(epoch, logs):  # the progress bar already shows these lines
        if not bar:
            print(f"epoch {epoch + 1:>2}/{args.epochs}: loss {logs['loss']:.4f}  "
                  f"accuracy {logs['accuracy']:.4f}  test accuracy "
                  f"{logs['val_accuracy']:.4f}  lr {logs['lr']:.4f}  "
                  f"{logs['seconds']:.2f} s", flush=True)

    # im2col's GEMMs run on BLAS's threads: hold them to --threads too (needs threadpoolctl)
    limiter, _ = _bench._blas_limits(args.threads)
    t0 = time.perf_counter()
    try:
        result = train_digits(args.epochs, args.seed, args.batch_size, args.lr, progress=bar,
                              on_epoch_end=log_epoch)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    seconds = time.perf_counter() - t0
    print(f"\ndata: {result.n_train} training and {result.n_test} held-out images (fixed "
          f"stratified {TEST_FRACTION:.0%} split, seed {SPLIT_SEED}); inputs standardised "
          f"as (x/16 - {result.mean:.4f}) / {result.std:.4f}\n")
    print(result.model.summary((1, 8, 8)))
    print()
    print(_layer_time_table(result.model, result.history.layer_times))
    correct = round(result.accuracy * result.n_test)
    verdict = "meets" if result.accuracy >= TARGET_ACCURACY else "is BELOW"
    print(f"\ntest accuracy: {result.accuracy:.2%} ({correct}/{result.n_test} held-out "
          f"images); {verdict} the {TARGET_ACCURACY:.0%} target")
    print(f"training took {seconds:.1f} s")
    path = os.path.abspath(train.save(result.model, args.out))
    print(f"weights saved to {path} (load with fastconv.train.load(digits_cnn(), path))")
    if plt is not None:
        _plot(plt, result, args.plot)
        print(f"plot saved to {os.path.abspath(args.plot)}")
    return 0


def _layer_time_table(model, layer_times):
    layers = dict(model.named_modules())
    total = sum(t["forward"] + t["backward"] for t in layer_times.values()) or 1.0
    lines = [f"{'layer':<6}{'type':<11}{'forward s':>10}{'backward s':>11}{'share':>7}"]
    for name, t in layer_times.items():
        both = t["forward"] + t["backward"]
        lines.append(f"{name:<6}{type(layers[name]).__name__:<11}{t['forward']:>10.3f}"
                     f"{t['backward']:>11.3f}{both / total:>7.1%}")
    lines.append(f"{'total':<17}{sum(t['forward'] for t in layer_times.values()):>10.3f}"
                 f"{sum(t['backward'] for t in layer_times.values()):>11.3f}")
    return "time spent per layer during training (forward and backward, all batches):\n" + \
        "\n".join(lines)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _plot(plt, result, path):
    """Loss and accuracy per epoch (training and held-out), and the first
    convolution's filters."""
    h = result.history
    epochs = np.arange(1, h.epochs + 1)
    weights = result.model[0].weight.data[:, 0]  # (8, 3, 3)
    fig = plt.figure(figsize=(11, 3.6))
    grid = fig.add_gridspec(2, 2 + len(weights) // 2, width_ratios=[3, 3] + [1] * (
        len(weights) // 2))
    ax = fig.add_subplot(grid[:, 0])
    ax.plot(epochs, h["loss"], label="training")
    ax.plot(epochs, h["val_loss"], label="held-out")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    ax.legend()
    ax = fig.add_subplot(grid[:, 1])
    ax.plot(epochs, h["accuracy"], label="training")
    ax.plot(epochs, h["val_accuracy"], label="held-out")
    ax.axhline(TARGET_ACCURACY, color="grey", linestyle=":", label="98% target")
    ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy",
           ylim=(min(0.9, *h["accuracy"][len(epochs) // 2:]), 1.0))
    ax.legend(loc="lower right")
    limit = np.abs(weights).max()
    for i, w in enumerate(weights):
        ax = fig.add_subplot(grid[i // (len(weights) // 2), 2 + i % (len(weights) // 2)])
        ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"filter {i}", fontsize=8)
    fig.suptitle(f"fastconv digits CNN: {result.accuracy:.2%} held-out accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------- summary ----
# Input shape of one sample per model; the others take ImageNet's (3, 224, 224).
_INPUT_SHAPES = {"lenet5": (1, 32, 32), "unet": (1, 64, 64), "digits": (1, 8, 8)}


def _summary_models():
    models = {name: getattr(nn.zoo, name) for name in nn.zoo.__all__}
    models["digits"] = digits_cnn
    return models


def add_summary_arguments(parser):
    parser.description = "Print a model's layers, output shapes, parameters, MACs and receptive field."
    parser.add_argument("model", help="one of: " + ", ".join(_summary_models()))
    parser.add_argument("--input-shape", metavar="C,H,W",
                        help="one sample's shape (default: 1,8,8 for digits, 1,32,32 for "
                             "lenet5, 1,64,64 for unet, else 3,224,224)")


def run_summary(args):
    models = _summary_models()
    if args.model not in models:
        print(f"summary: unknown model {args.model!r}; choose one of: {', '.join(models)}",
              file=sys.stderr)
        return 2
    shape = _INPUT_SHAPES.get(args.model, (3, 224, 224))
    if args.input_shape:
        try:
            shape = tuple(int(s) for s in args.input_shape.split(","))
        except ValueError:
            print(f"summary: --input-shape must be comma-separated ints, got "
                  f"{args.input_shape!r}", file=sys.stderr)
            return 2
    try:
        summary = models[args.model]().summary(shape)
    except ValueError as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 2
    print(f"{args.model}, input {shape}:")
    print(summary)
    return 0
