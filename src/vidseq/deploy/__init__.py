"""deploy: exported models (ONNX, TFLite, SavedModel) and what a deployment needs beside them."""
