"""Starting and supervising the parts: the embedded broker and PostgreSQL, topics and schema, worker
processes, and where a running system is found."""
