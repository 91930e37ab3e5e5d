"""quantviz: see what linear quantization does to a tensor.

The core (everything importable from here) never imports streamlit, so it works the same in a
notebook, a script or the dashboard. Only :mod:`quantviz.ui` touches streamlit.
"""

# The one place the version is written: pyproject.toml reads it (setuptools' attr:) for the
# wheel's metadata and ``quantviz --version`` prints it.
__version__ = "0.1.0"

from quantviz.calibrate import METHODS as CALIBRATION_METHODS
from quantviz.calibrate import MethodResult, calibrate_compare, output_error
from quantviz.compare import bits_per_element, compare
from quantviz.granularity import (
    Granularity,
    PerBlock,
    PerChannel,
    PerGroup,
    PerTensor,
    expand_to_elements,
)
from quantviz.inputs import (
    GENERATOR_KINDS,
    MAX_ELEMENTS,
    Checkpoint,
    InputError,
    TensorEntry,
    describe_tensor,
    generate,
    load_tensors,
    open_checkpoint,
    parse_matrix,
)
from quantviz.metrics import error_metrics, quantization_error
from quantviz.presets import PRESET_GROUPS, PRESETS
from quantviz.progress import StoppedError
from quantviz.quantize import (
    QuantResult,
    clipped_count,
    clipped_mask,
    dequantize,
    quantize,
    quantize_with_params,
)
from quantviz.scan import scan, summarize_scan
from quantviz.scheme import QuantScheme, parse_scheme

__all__ = [
    "CALIBRATION_METHODS",
    "GENERATOR_KINDS",
    "MAX_ELEMENTS",
    "PRESETS",
    "PRESET_GROUPS",
    "Checkpoint",
    "Granularity",
    "InputError",
    "MethodResult",
    "PerBlock",
    "PerChannel",
    "PerGroup",
    "PerTensor",
    "QuantResult",
    "QuantScheme",
    "StoppedError",
    "TensorEntry",
    "bits_per_element",
    "calibrate_compare",
    "clipped_count",
    "clipped_mask",
    "compare",
    "dequantize",
    "describe_tensor",
    "error_metrics",
    "expand_to_elements",
    "generate",
    "load_tensors",
    "open_checkpoint",
    "output_error",
    "parse_matrix",
    "parse_scheme",
    "quantization_error",
    "quantize",
    "quantize_with_params",
    "scan",
    "summarize_scan",
]
