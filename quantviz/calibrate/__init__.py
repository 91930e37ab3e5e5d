"""Calibration: what a layer *outputs* when its weight is quantized, and the methods that use
activations to do better than round-to-nearest — Hadamard rotation, SmoothQuant, AWQ, GPTQ.

Beside :mod:`quantviz.scan`; it quantizes only through the core's public API, so every scheme of
the core composes with every method. Nothing here imports streamlit.
"""

from quantviz.calibrate.activations import check_activations, check_weight, load_activations
from quantviz.calibrate.compare import COLUMNS, METHODS, calibrate_compare, run_method
from quantviz.calibrate.gptq import gptq, hessian, inverse_hessian_factor
from quantviz.calibrate.hadamard import Rotation, fwht, hadamard, sylvester
from quantviz.calibrate.output import INT8_PER_TOKEN, output_energy, output_error
from quantviz.calibrate.result import MethodResult
from quantviz.calibrate.rtn import rtn
from quantviz.calibrate.scaling import awq, smoothquant

__all__ = [
    "COLUMNS",
    "INT8_PER_TOKEN",
    "METHODS",
    "MethodResult",
    "Rotation",
    "awq",
    "calibrate_compare",
    "check_activations",
    "check_weight",
    "fwht",
    "gptq",
    "hadamard",
    "hessian",
    "inverse_hessian_factor",
    "load_activations",
    "output_energy",
    "output_error",
    "rtn",
    "run_method",
    "smoothquant",
    "sylvester",
]
