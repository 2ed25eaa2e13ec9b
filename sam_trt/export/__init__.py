"""torch -> ONNX: graph wrappers, exporter, manifest, checks."""
