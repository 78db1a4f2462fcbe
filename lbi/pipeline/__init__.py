"""Photo -> 3D pose: the estimator's named stages, the fusion with MediaPipe's 3D, ONNX."""
