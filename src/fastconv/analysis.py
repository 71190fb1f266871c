"""Placeholder for fastconv.analysis."""
