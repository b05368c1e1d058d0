"""Reports from stored rows: merged tables, summaries with intervals, figures, the multirun callback."""
