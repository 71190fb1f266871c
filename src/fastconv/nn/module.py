"""Parameter, Module and Sequential: the bookkeeping every layer shares.

Names and semantics follow ``torch.nn.Module`` (attribute registration,
``named_parameters``, ``state_dict`` key names, ``train``/``eval``), so weights
move between the two by key.  Gradients are explicit: ``forward`` keeps what
``backward`` needs, and ``backward(grad_output)`` adds the parameter gradients
to ``Parameter.grad`` (it accumulates, as torch's autograd does) and returns
the gradient with respect to the input of the most recent ``forward``.
"""
from collections import OrderedDict

import numpy as np

__all__ = ["Parameter", "Module", "Sequential"]


class Parameter:
    """A learnable array: ``data``, its gradient ``grad`` and ``requires_grad``.

    ``data`` may be created lazily: ``Parameter.lazy(shape, dtype, make)``
    knows its shape and dtype at once but calls ``make()`` (which returns the
    initialised array) only when ``data`` is first read, so counting the
    parameters of a large model, or loading weights into it, never allocates
    the random initial values.

    Attributes
    ----------
    data : ndarray
        The values.  Optimizers update it in place (``p.data -= lr * p.grad``);
        assigning a new array of the same shape is fine too.
    grad : ndarray or None
        Same shape and dtype as ``data``; None until a ``backward`` has stored a
        gradient, and again after ``Module.zero_grad()``.
    requires_grad : bool
        False freezes the parameter: ``backward`` neither stores its gradient
        (``grad`` stays None) nor computes it when it can avoid to, and
        optimizers skip it.
    """

    __slots__ = ("_data", "_make", "_shape", "_dtype", "grad", "requires_grad")

    def __init__(self, data, requires_grad=True):
        self._make = None
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)

    @classmethod
    def lazy(cls, shape, dtype, make, requires_grad=True):
        """A parameter whose values ``make()`` creates on first access of ``data``."""
        p = cls.__new__(cls)
        p._data, p._make = None, make
        p._shape, p._dtype = tuple(int(s) for s in shape), np.dtype(dtype)
        p.grad, p.requires_grad = None, bool(requires_grad)
        return p

    @property
    def data(self):
        if self._data is None:
            self.data = self._make()
        return self._data

    @data.setter
    def data(self, value):
        value = np.asarray(value)
        if value.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be a floating array, got {value.dtype}")
        self._data, self._make = value, None
        self._shape, self._dtype = value.shape, value.dtype

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def size(self):
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def materialized(self):
        """False while a lazy parameter's values have not been created yet."""
        return self._data is not None

    def to(self, dtype):
        """Convert ``data`` and ``grad`` to ``dtype``; a lazy parameter stays lazy."""
        dtype = np.dtype(dtype)
        if self.materialized:
            self.data = self._data.astype(dtype, copy=False)
        else:
            make = self._make
            self._make, self._dtype = (lambda: make().astype(dtype, copy=False)), dtype
        if self.grad is not None:
            self.grad = self.grad.astype(dtype, copy=False)
        return self

    def accumulate_grad(self, grad):
        """Add ``grad`` to ``self.grad`` (set it if None); no-op when frozen."""
        if not self.requires_grad:
            return
        if grad.shape != self._shape:
            raise ValueError(f"Parameter: gradient shape {grad.shape} != parameter shape "
                             f"{self._shape}")
        if self.grad is None:
            self.grad = np.array(grad, dtype=self._dtype)
        else:
            self.grad += grad

    def __repr__(self):
        lazy = "" if self.materialized else ", lazy"
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter(shape={self._shape}, dtype={self._dtype}{lazy}{frozen})"


class Module:
    """Base class of layers and containers.

    Subclasses set parameters (``self.weight = Parameter(...)``), child modules
    (``self.block = Conv2d(...)``) and buffers (``self.register_buffer(...)``)
    as attributes, and implement

    * ``forward(x)``: the output; keeps what ``backward`` needs;
    * ``backward(grad_output, need_input=True)``: accumulates the gradients of
      trainable parameters into their ``.grad`` and returns the gradient with
      respect to ``x`` of the most recent ``forward`` (None when
      ``need_input=False``, which lets a first layer skip that work);
    * ``output_shape(input_shape)``, ``macs(input_shape)`` and
      ``receptive_step(input_shape)`` for :meth:`summary` (shapes are per
      sample: ``(C, *spatial)``).
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --------------------------------------------------------- registration ----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before "
                                 "assigning attributes")
        if isinstance(value, (Parameter, Module)):
            table = self._parameters if isinstance(value, Parameter) else self._modules
            for other in (self._parameters, self._buffers, self._modules, self.__dict__):
                other.pop(name, None)
            table[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign a "
                                f"Parameter or None, got {type(value).__name__}")
            self._parameters[name] = None
        elif name in self._buffers:
            self._buffers[name] = value
        elif name in self._modules:
            raise TypeError(f"{type(self).__name__}.{name} is a child module: assign a "
                            f"Module, got {type(value).__name__}")
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(table, {})
            if name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one like ``bias=False``)."""
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, array):
        """Register a non-learnable array saved in ``state_dict`` (e.g. running_mean)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = array

    # ------------------------------------------------------------ traversal ----
    def named_modules(self, prefix=""):
        """Yield ``(name, module)`` for this module and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self):
        """Yield ``(name, Parameter)`` with torch's dotted names, e.g. ``'0.weight'``."""
        for prefix, m in self.named_modules():
            for name, p in m._parameters.items():
                if p is not None:
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        """Yield every Parameter (frozen ones too; check ``requires_grad``)."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self):
        for prefix, m in self.named_modules():
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{prefix}.{name}" if prefix else name), b

    # ---------------------------------------------------------------- modes ----
    def train(self, mode=True):
        """Training mode (BatchNorm uses batch statistics, Dropout drops); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def freeze(self):
        """Freeze every parameter (transfer learning): ``requires_grad_(False)``."""
        return self.requires_grad_(False)

    def unfreeze(self):
        return self.requires_grad_(True)

    def has_trainable(self):
        """True when some parameter of this module or a descendant requires a gradient."""
        return any(p.requires_grad for p in self.parameters())

    def zero_grad(self):
        """Drop every parameter's gradient (``grad = None``, torch's default)."""
        for p in self.parameters():
            p.grad = None

    def to(self, dtype):
        """Convert parameters, their gradients and floating buffers to ``dtype``; returns self."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: dtype must be floating, got {dtype}")
        for p in self.parameters():
            p.to(dtype)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[name] = b.astype(dtype)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ---------------------------------------------------------- state dicts ----
    def state_dict(self):
        """Parameters and buffers by torch's key names, in registration order.

        The values are the live arrays, not copies (as in torch): copy them
        (``{k: v.copy() for k, v in sd.items()}``) to keep a snapshot while
        training goes on.  BatchNorm contributes ``running_mean``,
        ``running_var`` and ``num_batches_tracked`` (0-d int64).
        """
        out = OrderedDict()
        for prefix, m in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[dot + name] = p.data
            for name, b in m._buffers.items():
                if b is not None:
                    out[dot + name] = b
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from ``state_dict`` (name -> array, e.g. a torch state_dict
        converted with ``.detach().numpy()``) into this module.

        Values are converted to each parameter's or buffer's dtype and copied
        into the existing arrays (as torch does); shapes must match exactly.  With ``strict`` (default), missing or unexpected keys
        raise ``KeyError``; otherwise they are returned as
        ``(missing_keys, unexpected_keys)``.
        """
        targets = OrderedDict()
        for prefix, m in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    targets[dot + name] = (m, name, p)
            for name, b in m._buffers.items():
                if b is not None:
                    targets[dot + name] = (m, name, None)
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}")
        for key, (m, name, p) in targets.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            current = p if p is not None else m._buffers[name]
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(f"load_state_dict: {key!r} has shape {value.shape}, the "
                                 f"module expects {tuple(current.shape)}")
            if p is not None and not p.materialized:
                p.data = np.array(value, dtype=p.dtype)    # never create the random values
            else:
                # in place, as torch: arrays held elsewhere (optimizers) stay valid
                (p.data if p is not None else current)[...] = value
        return missing, unexpected

    # -------------------------------------------------------- forward/back ----
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output, need_input=True):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, x):
        return self.forward(x)

    # -------------------------------------------------------------- summary ----
    def output_shape(self, input_shape):
        """Per-sample output shape ``(C, *spatial)`` for a per-sample input shape."""
        return tuple(input_shape)

    def macs(self, input_shape):
        """Multiply-adds of one sample (0 for layers that do no multiply-adds)."""
        return 0

    def receptive_step(self, input_shape):
        """Per spatial axis ``(kernel, stride, dilation)`` for the receptive field,
        or None when the layer maps each element to one element (activations)."""
        return None

    def summary(self, input_shape):
        """Per-layer table (name, output shape, parameters, MACs, receptive field).

        Computed from shapes alone: no array is allocated and no lazy
        parameter is created.  ``input_shape`` is one sample's ``(C, *spatial)``.
        Returns a :class:`fastconv.nn.Summary`; ``print()`` it for the table.
        """
        from fastconv.nn.summary import summarize
        return summarize(self, input_shape)

    def summary_rows(self, name, info):
        """Rows of :meth:`summary` for this module; containers override it."""
        from fastconv.nn.summary import leaf_rows
        return leaf_rows(self, name, info)

    # ----------------------------------------------------------------- repr ----
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ")
                 for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


class Sequential(Module):
    """Modules applied in order; ``Sequential(OrderedDict(name=module, ...))`` names them.

    Supports ``len``, iteration, integer and slice indexing (a slice gives a
    new Sequential sharing the modules) and ``append``.  ``backward`` runs the
    children in reverse; with ``need_input=False`` it stops at the first child
    that holds a trainable parameter (frozen leading layers cost nothing).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            items = modules[0].items()
        else:
            items = ((str(i), m) for i, m in enumerate(modules))
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: {name!r} must be a Module, got "
                                f"{type(m).__name__}")
            self._modules[str(name)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self._modules[str(len(self._modules))] = module
        return self

    def forward(self, x):
        for m in self:
            x = m(x)
        return x

    def backward(self, grad_output, need_input=True):
        layers = list(self)
        first = 0
        if not need_input:
            trainable = [i for i, m in enumerate(layers) if m.has_trainable()]
            if not trainable:
                return None
            first = trainable[0]
        grad = grad_output
        for i in range(len(layers) - 1, first - 1, -1):
            grad = layers[i].backward(grad, need_input=need_input or i > first)
        return grad

    def output_shape(self, input_shape):
        for m in self:
            input_shape = m.output_shape(input_shape)
        return input_shape

    def macs(self, input_shape):
        total = 0
        for m in self:
            total += m.macs(input_shape)
            input_shape = m.output_shape(input_shape)
        return total

    def summary_rows(self, name, info):
        rows = []
        for child_name, m in self._modules.items():
            info, child_rows = m.summary_rows(f"{name}.{child_name}" if name else child_name,
                                              info)
            rows += child_rows
        return info, rows

