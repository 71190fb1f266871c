"""``Module.summary``: per-layer output shape, parameters, MACs and receptive field.

Everything is computed from shapes (per sample, ``(C, *spatial)``): no array
is allocated and lazy parameters stay uncreated, so summarising VGG-16 costs
nothing.  What counts as a MAC (multiply-add), per sample:

* convolutions: ``fastconv.analysis.conv_macs`` (C_out * prod(out) * C_in/groups
  * prod(kernel)); depthwise-separable: ``analysis.depthwise_separable_macs``
  (both steps); transposed convolutions: C_in * prod(in) * C_out/groups *
  prod(kernel);
* Linear: in_features * out_features (per position);
* everything else -- BatchNorm, activations, pooling, upsampling, padding,
  shuffles, dropout, flatten, the Residual add and Concat -- counts 0: they
  do no multiply-adds of weights (and BatchNorm folds into the preceding
  convolution at inference).  Bias additions are not counted either.

Receptive field per spatial axis as ``(size, jump)`` in input elements, with
``analysis.receptive_field``'s rule ``size += (kernel - 1) * dilation * jump;
jump *= stride`` per layer.  Transposed convolutions, upsampling and adaptive
pooling have fractional strides (jump may be a fraction); a merge (Residual,
Concat) takes the larger size and jump of its branches; global and pyramid
pooling see the whole input.  Layers with no spatial axes (after Flatten or
global pooling) show ``-``.
"""
from collections import namedtuple
from fractions import Fraction

Row = namedtuple("Row", "name kind output_shape params macs receptive_field")
Row.__doc__ = ("One summary line: ``receptive_field`` is a tuple of (size, jump) per "
               "spatial axis, or None.")


def _grow(rf, step):
    (size, jump), (kernel, stride, dilation) = rf, step
    size = Fraction(size) + (kernel - 1) * dilation * jump
    return _simplest(size), _simplest(Fraction(jump) * stride)


def _simplest(value):
    return int(value) if value.denominator == 1 else value


def leaf_rows(module, name, info):
    """One row for a module treated as one layer; ``info`` is (shape, receptive field)."""
    shape, rf = info
    out = tuple(module.output_shape(shape))
    step = module.receptive_step(shape)
    if rf is not None and step is not None:
        rf = tuple(_grow(r, s) for r, s in zip(rf, step))
    elif len(out) <= 1:    # e.g. Flatten: no spatial axes left, and no pooling over them
        rf = None
    params = sum(p.size for p in module.parameters())
    row = Row(name, type(module).__name__, out, params, module.macs(shape), rf)
    return (out, rf if len(out) > 1 else None), [row]


class Summary:
    """Result of ``Module.summary``; ``str()`` is the table.

    Attributes
    ----------
    rows : list of Row
    input_shape, output_shape : tuple
    total_params, trainable_params, total_macs : int
    receptive_field : tuple of (size, jump) per spatial axis, or None
        Of the last layer that has one: the last layer with spatial axes, or
        a global/pyramid pooling after it (which sees the whole input).
    """

    def __init__(self, model, input_shape, rows, output_shape):
        self.rows, self.input_shape, self.output_shape = rows, input_shape, output_shape
        self.total_params = sum(p.size for p in model.parameters())
        self.trainable_params = sum(p.size for p in model.parameters() if p.requires_grad)
        self.total_macs = sum(r.macs for r in rows)
        spatial = [r.receptive_field for r in rows if r.receptive_field is not None]
        self.receptive_field = spatial[-1] if spatial else None

    def __str__(self):
        head = ("Layer", "Type", "Output shape", "Params", "MACs", "RF size", "RF jump")
        lines = [head] + [(r.name or "(model)", r.kind, str(r.output_shape), f"{r.params:,}",
                           f"{r.macs:,}", *_rf_text(r.receptive_field)) for r in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        right = {3, 4}
        fmt = [("{:>%d}" if i in right else "{:<%d}") % w for i, w in enumerate(widths)]
        text = ["  ".join(f.format(c) for f, c in zip(fmt, line)).rstrip() for line in lines]
        rule = "-" * len(text[0])
        size, jump = _rf_text(self.receptive_field)
        return "\n".join(
            [text[0], rule] + text[1:] + [rule,
             f"Input shape: {self.input_shape}  Output shape: {self.output_shape}",
             f"Total params: {self.total_params:,} (trainable {self.trainable_params:,})",
             f"Total MACs: {self.total_macs:,} ({self.total_macs / 1e9:.3f} G) per sample",
             f"Receptive field: {size} (jump {jump})"])

    def __repr__(self):
        return (f"Summary(total_params={self.total_params}, total_macs={self.total_macs}, "
                f"receptive_field={self.receptive_field})")


def _rf_text(rf):
    if rf is None:
        return "-", "-"
    sizes = [str(Fraction(s)) for s, _ in rf]
    jumps = [str(Fraction(j)) for _, j in rf]
    join = lambda xs: xs[0] if len(set(xs)) == 1 else "x".join(xs)   # noqa: E731
    return join(sizes), join(jumps)


def summarize(model, input_shape):
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 1 or not all(
            isinstance(s, int) and s >= 1 for s in input_shape):
        raise ValueError(f"summary: input_shape must be one sample's (C, *spatial) sizes "
                         f"(ints >= 1, no batch axis), got {input_shape!r}")
    input_shape = tuple(input_shape)
    rf = tuple((1, 1) for _ in input_shape[1:]) if len(input_shape) > 1 else None
    (out, _), rows = model.summary_rows("", (input_shape, rf))
    return Summary(model, input_shape, rows, out)
