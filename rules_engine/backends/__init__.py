"""Backends that compile the IR to column expressions on one shared compiler (kleene.py):
SQL (SQLite and PostgreSQL as dialects of sql.py) and Spark (spark.py). Table I/O is in
sql_tables.py. The in-process numpy engine (vectorized.py), the per-row reference evaluator
(the oracle) and durable-rules (the event path) are separate by design."""
