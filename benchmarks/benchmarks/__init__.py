"""asv benchmarks for fastconv (run from benchmarks/: ``asv run``; see asv.conf.json)."""
