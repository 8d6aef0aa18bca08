"""Run an exported vidseq model with its runtime alone: onnxruntime, the LiteRT interpreter, or TensorFlow.

This file imports neither vidseq nor Keras, so it doubles as a deployment reference. As a script
it blocks both imports (a SavedModel that needed Keras would fail to load), feeds the named
float32 arrays of an .npz file and saves the probabilities:

    python runtime.py onnx|tflite|saved_model ARTIFACT INPUTS.npz PROBS.npy [INPUTS.npz PROBS.npy ...]
"""

from __future__ import annotations

import json
import sys

import numpy as np

BLOCKED = ("keras", "vidseq")


class Runner:
    """A loaded artifact: its input and output names, and a call from named inputs to probabilities."""

    input_names: list[str]
    output_names: list[str]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The first output (class probabilities) for named float32 inputs."""
        return self._run({k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()})


class OnnxRunner(Runner):
    """An .onnx file in onnxruntime (CPU)."""

    def __init__(self, artifact: str):
        import onnxruntime

        self.session = onnxruntime.InferenceSession(artifact, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _run(self, inputs):
        return self.session.run(
            self.output_names[:1], {name: inputs[name] for name in self.input_names}
        )[0]


class TfliteRunner(Runner):
    """A .tflite file in the LiteRT interpreter (builtin ops only: pip's build has no Flex delegate)."""

    def __init__(self, artifact: str):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=artifact)
        names = interpreter.get_signature_list()["serving_default"]
        self.input_names, self.output_names = list(names["inputs"]), list(names["outputs"])
        self.runner = interpreter.get_signature_runner("serving_default")

    def _run(self, inputs):
        return self.runner(**inputs)[self.output_names[0]]


class SavedModelRunner(Runner):
    """A SavedModel folder's serving_default signature in TensorFlow."""

    def __init__(self, artifact: str):
        import tensorflow as tf

        self.fn = tf.saved_model.load(artifact).signatures["serving_default"]
        self.input_names = sorted(self.fn.structured_input_signature[1])
        self.output_names = list(self.fn.structured_outputs)

    def _run(self, inputs):
        return self.fn(**inputs)[self.output_names[0]].numpy()


RUNNERS = {"onnx": OnnxRunner, "tflite": TfliteRunner, "saved_model": SavedModelRunner}


def load(fmt: str, artifact: str) -> Runner:
    """The artifact `artifact` of format `fmt` (onnx, tflite, saved_model), loaded in its runtime."""
    return RUNNERS[fmt](str(artifact))


def main(argv: list[str]) -> int:
    """Script entry: FORMAT ARTIFACT then pairs INPUTS.npz PROBS.npy; prints a JSON line of what it saw."""
    if len(argv) < 4 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    fmt, artifact, pairs = argv[0], argv[1], argv[2:]
    for name in BLOCKED:
        sys.modules.setdefault(
            name, None
        )  # `import keras` now fails, and TensorFlow skips its optional import
    runner = load(fmt, artifact)
    shapes = []
    for inputs_path, out_path in zip(pairs[::2], pairs[1::2]):
        with np.load(inputs_path) as data:
            probs = runner({k: data[k] for k in data.files})
        np.save(out_path, probs)
        shapes.append(list(probs.shape))
    loaded = sorted(
        m for m, module in sys.modules.items() if module is not None and m.split(".")[0] in BLOCKED
    )
    print(json.dumps({"inputs": runner.input_names, "shapes": shapes, "loaded": loaded}))
    return 0


if __name__ == "__main__":
    sys.path.pop(
        0
    )  # this file's folder: the names of its sibling modules must not shadow top-level ones
    sys.exit(main(sys.argv[1:]))
