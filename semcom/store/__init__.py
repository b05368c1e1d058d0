"""What a run keeps on disk: result rows (Parquet parts), set-metric features, reconstructions."""
