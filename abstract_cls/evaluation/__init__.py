"""Evaluation: metrics as the official evaluators compute them, and the report files."""
