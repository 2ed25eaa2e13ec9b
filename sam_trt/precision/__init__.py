"""Precision variants of an export folder (FP16, INT8, FP8 in the ONNX graph) and their accuracy gate.

    from sam_trt.precision import make_variant
    result = make_variant("exports/vit_b", "int8", "engines/onnx/vit_b-int8")
"""

from .variant import PRECISIONS, VariantResult, make_variant

__all__ = ["PRECISIONS", "VariantResult", "make_variant"]
