"""Data audit: near-duplicates, photos among drawings, split leakage, imbalance."""
