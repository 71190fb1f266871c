"""Branching combinators: Residual (ResNet) and Concat (Inception, U-Net skips)."""
import numpy as np

from fastconv.nn.module import Module
from fastconv.nn.summary import Row


def _merge_rf(infos):
    """Receptive field of a merge: per axis the widest size and the largest jump."""
    rfs = [rf for _, rf in infos]
    if any(rf is None for rf in rfs):
        return None
    return tuple((max(a[0] for a in axis), max(a[1] for a in axis)) for axis in zip(*rfs))


class Residual(Module):
    """``y = block(x) + shortcut(x)``; the shortcut is the identity when None.

    Children are ``block`` and (when given) ``shortcut``, so keys read
    ``block.0.weight``, ``shortcut.0.weight``.  The activation after the sum
    (ResNet's final ReLU) is the next layer of the enclosing Sequential.
    """

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = block
        if shortcut is not None:
            self.shortcut = shortcut
        else:
            object.__setattr__(self, "shortcut", None)

    def forward(self, x):
        y = self.block(x)
        s = x if self.shortcut is None else self.shortcut(x)
        if np.shape(y) != np.shape(s):
            raise ValueError(f"Residual: block output shape {np.shape(y)} differs from the "
                             f"shortcut's {np.shape(s)}")
        return y + s

    def backward(self, grad_output, need_input=True):
        g_block = self.block.backward(grad_output, need_input)
        if self.shortcut is None:
            g_short = grad_output if need_input else None
        else:
            g_short = self.shortcut.backward(grad_output, need_input)
        return g_block + g_short if need_input else None

    def output_shape(self, input_shape):
        return self.block.output_shape(input_shape)

    def macs(self, input_shape):
        extra = 0 if self.shortcut is None else self.shortcut.macs(input_shape)
        return self.block.macs(input_shape) + extra

    def summary_rows(self, name, info):
        dot = f"{name}." if name else ""
        block_info, rows = self.block.summary_rows(dot + "block", info)
        short_info = info
        if self.shortcut is not None:
            short_info, short_rows = self.shortcut.summary_rows(dot + "shortcut", info)
            rows += short_rows
        if block_info[0] != short_info[0]:
            raise ValueError(f"Residual {name!r}: block output shape {block_info[0]} differs "
                             f"from the shortcut's {short_info[0]}")
        out = (block_info[0], _merge_rf([block_info, short_info]))
        return out, rows + [Row(name, "Residual (add)", out[0], 0, 0, out[1])]


class Concat(Module):
    """Concatenate the branches' outputs along the channel axis (axis 1).

    Each branch sees the same input.  ``Concat(Identity(), inner)`` is a U-Net
    skip connection; branches are children ``'0'``, ``'1'``, ...
    """

    def __init__(self, *branches):
        super().__init__()
        if not branches:
            raise ValueError("Concat: needs at least one branch")
        for i, b in enumerate(branches):
            if not isinstance(b, Module):
                raise TypeError(f"Concat: branch {i} must be a Module, got {type(b).__name__}")
            self._modules[str(i)] = b

    def forward(self, x):
        outs = [b(x) for b in self.children()]
        rest = {np.shape(o)[:1] + np.shape(o)[2:] for o in outs}
        if len(rest) > 1:
            raise ValueError(f"Concat: branch outputs {[np.shape(o) for o in outs]} differ "
                             "outside the channel axis")
        self._splits = np.cumsum([np.shape(o)[1] for o in outs])[:-1]
        return np.concatenate(outs, axis=1)

    def backward(self, grad_output, need_input=True):
        parts = np.split(grad_output, self._splits, axis=1)
        grads = [b.backward(g, need_input) for b, g in zip(self.children(), parts)]
        return sum(grads[1:], grads[0]) if need_input else None

    def output_shape(self, input_shape):
        shapes = [b.output_shape(input_shape) for b in self.children()]
        return self._merge_shapes(shapes)

    def _merge_shapes(self, shapes):
        if len({s[1:] for s in shapes}) > 1:
            raise ValueError(f"Concat: branch output shapes {shapes} differ outside the "
                             "channel axis")
        return (sum(s[0] for s in shapes),) + tuple(shapes[0][1:])

    def macs(self, input_shape):
        return sum(b.macs(input_shape) for b in self.children())

    def summary_rows(self, name, info):
        dot = f"{name}." if name else ""
        infos, rows = [], []
        for i, b in self._modules.items():
            branch_info, branch_rows = b.summary_rows(dot + i, info)
            infos.append(branch_info)
            rows += branch_rows
        out = (self._merge_shapes([s for s, _ in infos]), _merge_rf(infos))
        return out, rows + [Row(name, "Concat", out[0], 0, 0, out[1])]
