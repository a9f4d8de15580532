-- PostgreSQL only: a trigger that tells every instance an endpoint changed.
-- On SQLite one process holds the database, and its store empties its own
-- endpoint cache on every write (store/endpointcache.go).
SELECT 1;
