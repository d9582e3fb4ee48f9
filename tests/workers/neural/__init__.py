"""Tests of the neural engines on tiny local models (CPU)."""
