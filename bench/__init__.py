"""Benchmarks of chainrule against micrograd and PyTorch (not tests): see run.py."""
