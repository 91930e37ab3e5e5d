"""Getting tensors into quantviz, safely: typed text, uploaded files, checkpoints, generators.

No input may crash, hang or run code: every problem becomes an :class:`InputError` whose message
says what is wrong and where. Nothing here imports streamlit.
"""

from quantviz.inputs.checkpoint import Checkpoint, TensorEntry, load_tensors, open_checkpoint
from quantviz.inputs.errors import MAX_ELEMENTS, MAX_FILE_BYTES, MAX_TEXT_BYTES, InputError
from quantviz.inputs.generate import GENERATOR_KINDS, generate, generator_params
from quantviz.inputs.stats import describe_tensor
from quantviz.inputs.text import parse_matrix, parse_matrix_info

__all__ = [
    "GENERATOR_KINDS",
    "MAX_ELEMENTS",
    "MAX_FILE_BYTES",
    "MAX_TEXT_BYTES",
    "Checkpoint",
    "InputError",
    "TensorEntry",
    "describe_tensor",
    "generate",
    "generator_params",
    "load_tensors",
    "open_checkpoint",
    "parse_matrix",
    "parse_matrix_info",
]
