"""One module per source: each talks HTTP through a Fetcher and parses to tidy DataFrames.

Connectors never validate and never write the warehouse; the pipeline does both.
"""
