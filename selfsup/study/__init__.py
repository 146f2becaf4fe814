"""Claim experiments: each runs the trainer several ways and writes a table and plots."""
