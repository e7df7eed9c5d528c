"""Model server: checkpoints, quantization and batched generation behind an HTTP API."""
