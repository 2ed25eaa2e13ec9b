"""ONNX -> TensorRT plan: TensorRT import, optimization profiles, builder."""
