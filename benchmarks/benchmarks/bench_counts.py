"""Operation counts from fastconv.analysis, tracked so that a change to a count
(or to a layer of the case table) shows up: multiply-adds and parameters of
every forward layer with weights, the textbook example, and whole networks."""
from fastconv import analysis
from fastconv._bench import CASES, case_macs

WEIGHTED = [name for name, case in CASES.items()
            if not case.op.endswith("_backward") and case.op != "train_step"
            and case_macs(name)[0] is not None]


def layer_params(case):
    """Weights and biases of a case's layer, by analysis.conv_params.  A
    transposed conv has as many as the conv with the same channels
    (weight (c_in, c_out / groups, *kernel), c_out biases)."""
    s, nd = case.shape, len(case.shape["size"])
    if case.op in ("depthwise_conv2d", "separable_conv2d"):
        count = analysis.conv_params(s["c_in"], s["c_in"], s["kernel_size"], groups=s["c_in"],
                                     ndim=nd)
        if case.op == "separable_conv2d":
            count += analysis.conv_params(s["c_in"], s["c_out"], 1, ndim=nd)
        return count
    return analysis.conv_params(s["c_in"], s["c_out"], s["kernel_size"],
                                groups=case.kwargs.get("groups", 1), ndim=nd)


class LayerCounts:
    params = [WEIGHTED]
    param_names = ["case"]

    def track_macs(self, case):
        """Multiply-adds per call (the numerator of every track_gflops)."""
        return case_macs(case)[0]

    track_macs.unit = "MACs"

    def track_params(self, case):
        return layer_params(CASES[case])

    track_params.unit = "parameters"


class TextbookCounts:
    """A 5x5 convolution from 12x12x3 to 8x8x256 costs 1,228,800 multiplications;
    its depthwise-separable replacement 4,800 + 49,152 = 53,952."""

    def track_standard_5x5_macs(self):
        return analysis.conv_macs((3, 12, 12), 256, 5)

    track_standard_5x5_macs.unit = "MACs"

    def track_separable_5x5_macs(self):
        return sum(analysis.depthwise_separable_macs((3, 12, 12), 256, 5))

    track_separable_5x5_macs.unit = "MACs"


class ZooCounts:
    """Total multiply-adds and parameters of the model zoo's networks
    (fastconv.nn.zoo, random init, counted from shapes by model.summary; no
    weights are created) at their standard input sizes.  tests/test_zoo.py
    checks them against the published figures."""
    params = [["lenet5", "alexnet", "vgg11", "vgg16", "resnet18", "mobilenet_v1",
               "shufflenet_v1", "unet"]]
    param_names = ["model"]
    INPUT = {"lenet5": (1, 32, 32), "unet": (1, 64, 64)}

    def setup(self, model):
        try:
            from fastconv.nn import zoo
        except ImportError:
            raise NotImplementedError("no model zoo (fastconv.nn.zoo) in this build") from None
        self.summary = getattr(zoo, model)().summary(self.INPUT.get(model, (3, 224, 224)))

    def track_zoo_macs(self, model):
        return self.summary.total_macs

    track_zoo_macs.unit = "MACs"

    def track_zoo_params(self, model):
        return self.summary.total_params

    track_zoo_params.unit = "parameters"
