"""Helpers shared by tflc's Python tests (run them with /usr/bin/python3)."""
