"""The read path: logins, organisation scoping, guarded SQL and the query server."""
