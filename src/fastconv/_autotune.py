"""Measured algorithm choice: time every algorithm on a call, remember the
fastest for that call's shape, and let ``algorithm='auto'`` use it.

``algorithm='auto'`` normally follows a fixed rule (README, "Choosing an
algorithm").  The rule was fitted on one machine; ``autotune`` replaces it, for
one call signature, by a measurement on yours.  Choices are kept in memory
for the life of the process, keyed by the operation, every size and
hyper-parameter of the call (batch size included), the dtype and the thread
count, so a call with another shape or another ``set_num_threads`` value
still follows the rule until it is tuned too.
"""
import statistics
import time
from typing import NamedTuple

from fastconv import _select

__all__ = ["autotune", "autotune_choices", "clear_autotune", "AutotuneResult"]


class AutotuneResult(NamedTuple):
    """What autotune measured and chose for one call signature."""
    op: str            # the operation, e.g. 'conv2d' or 'conv2d_backward'
    choice: str        # the algorithm 'auto' now uses for this signature
    rule: str          # what the fixed rule would have chosen
    times: dict        # algorithm -> median seconds per call (measured ones only)
    skipped: dict      # algorithm -> why it was not measured (does not apply)

    def __str__(self):
        cells = ", ".join(f"{alg} {t * 1e3:.3f} ms" for alg, t in self.times.items())
        cells += "".join(f", {alg} n/a" for alg in self.skipped)
        return f"{self.op}: {cells} -> {self.choice} (rule: {self.rule})"


def autotune(fn, *args, algorithms=None, repeat=5, **kwargs):
    """Time ``fn(*args, algorithm=a, **kwargs)`` for each algorithm and make the
    fastest one what ``algorithm='auto'`` picks for calls of this signature.

    Parameters
    ----------
    fn : callable
        A fastconv function with an ``algorithm=`` argument: ``conv1d``,
        ``conv2d``, ``conv3d``, ``conv_transpose{1,2,3}d`` or their
        ``*_backward``.
    *args, **kwargs
        A representative call (the arrays' values do not matter, their shapes,
        dtype and the hyper-parameters do).  ``algorithm`` must not be given.
    algorithms : sequence of str, optional
        The candidates (default: all of ``fastconv.ALGORITHMS``, including
        'im2col', which runs on BLAS's own threads: pass
        ``algorithms=('direct', 'gemm')`` to stay on fastconv's).
    repeat : int
        Timed rounds; each round runs every candidate once, in rotating order,
        and the median decides.

    Returns
    -------
    AutotuneResult
        ``choice``, the rule's choice, the median times and the candidates
        that do not apply to this call.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.zeros((1, 16, 32, 32), np.float32)
    >>> w = np.zeros((16, 16, 3, 3), np.float32)
    >>> result = fastconv.autotune(fastconv.conv2d, x, w, padding=1, repeat=3)
    >>> result.choice in fastconv.ALGORITHMS
    True
    """
    from fastconv._validate import check_int
    name = getattr(fn, "__name__", repr(fn))
    if "algorithm" in kwargs:
        raise TypeError("autotune: do not pass algorithm=; autotune tries each one")
    repeat = check_int("autotune", "repeat", repeat, minimum=1)
    candidates = tuple(_select.ALGORITHMS if algorithms is None else algorithms)
    unknown = [a for a in candidates if a not in _select.ALGORITHMS]
    if unknown or not candidates:
        raise ValueError(f"autotune: algorithms must be a non-empty subset of "
                         f"{_select.ALGORITHMS}, got {algorithms!r}")

    # One call with algorithm='auto' and a probe: validates the arguments and
    # tells which signature (operation, spec, dtype, threads) they form.
    _select._local.probe = probe = []
    try:
        fn(*args, **kwargs)
    finally:
        _select._local.probe = None
    if not probe:
        raise TypeError(f"autotune: {name} has no algorithm choice")
    key = probe[-1]
    rule = _select.auto_algorithm(key[1])

    calls, skipped = {}, {}
    for alg in candidates:
        def call(alg=alg):
            return fn(*args, algorithm=alg, **kwargs)
        try:
            call()  # warm-up; an algorithm that does not apply raises ValueError
        except ValueError as exc:
            skipped[alg] = str(exc)
            continue
        calls[alg] = call
    if not calls:
        raise ValueError(f"autotune: none of {candidates} applies to this {name} call")

    samples = {alg: [] for alg in calls}
    order = list(calls)
    for r in range(repeat):
        for i in range(len(order)):
            alg = order[(r + i) % len(order)]
            t0 = time.perf_counter()
            calls[alg]()
            samples[alg].append(time.perf_counter() - t0)
    times = {alg: statistics.median(s) for alg, s in samples.items()}
    choice = min(times, key=times.get)
    with _select._tuned_lock:
        _select._tuned[key] = choice
    return AutotuneResult(key[0], choice, rule, times, skipped)


def autotune_choices():
    """The recorded choices: a list of (operation, spec, dtype, threads, algorithm)."""
    with _select._tuned_lock:
        return [(*key, alg) for key, alg in _select._tuned.items()]


def clear_autotune():
    """Forget every recorded choice; 'auto' follows the rule again."""
    with _select._tuned_lock:
        _select._tuned.clear()
