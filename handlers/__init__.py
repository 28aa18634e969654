"""Per-task logic: one module per task (prompt template, output schema, parser) and the pipeline."""
