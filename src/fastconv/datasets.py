"""Small data sets for the demo and the tests.

``load_digits`` reads the 8x8 UCI handwritten digits that scikit-learn ships
inside its package (no download), so it needs the optional ``demo`` extra:
``pip install "fastconv[demo]"``.
"""
import numpy as np

__all__ = ["load_digits", "stratified_split"]


def load_digits(test_fraction=0.2, seed=0, dtype=np.float32):
    """The 1797 8x8 digit images, split into a training and a held-out test set.

    The split is stratified (each digit keeps its share in both parts) and
    fixed by ``seed``, so every run holds out the same images.

    Parameters
    ----------
    test_fraction : float in (0, 1)
        Share of each class held out for testing.
    seed : int
        Seed of the split.
    dtype : float dtype
        Of the images, which are scaled from 0..16 to 0..1.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Images ``(N, 1, 8, 8)`` and int64 labels 0..9 ``(N,)``.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("load_digits reads the digits shipped with scikit-learn, which is "
                          "not installed: pip install \"fastconv[demo]\" "
                          "(or pip install scikit-learn)") from None
    bunch = sklearn_digits()
    x = (bunch.data / 16.0).astype(dtype).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    train, test = stratified_split(y, test_fraction, seed)
    return (x[train], y[train]), (x[test], y[test])


def stratified_split(labels, test_fraction, seed):
    """Indices ``(train, test)``: per class, a seeded random ``round(fraction * count)``
    of its samples go to test; both index arrays are sorted."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.append(rng.permutation(members)[:round(test_fraction * len(members))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test
