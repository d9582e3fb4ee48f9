"""Shared machinery of the neural engines: device and precision, weights, ONNX, TensorRT, batching.

Nothing here imports torch or TensorRT at package import time: the CPU-only worker imports the
stage registry, which names the neural engines, without either library being installed.
"""
