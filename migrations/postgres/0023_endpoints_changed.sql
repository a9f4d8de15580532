-- Every instance keeps the endpoints it read in memory (store/endpointcache.go)
-- and empties that cache when this channel is notified (store/endpointwatch.go).
-- Triggers, so that every change is announced, whoever makes it: this
-- instance, another, or an operator's psql. NOTIFY is delivered when the
-- writing transaction commits, to every listening session, and a
-- transaction's identical notifications are folded into one. Per row, so
-- that a statement that changes no row announces nothing; TRUNCATE has no
-- rows, so it has a trigger of its own. The watch checks that both are
-- enabled before it trusts the cache.
CREATE FUNCTION handover_endpoints_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('handover_endpoints', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoints_changed
    AFTER INSERT OR UPDATE OR DELETE ON endpoints
    FOR EACH ROW EXECUTE FUNCTION handover_endpoints_changed();

CREATE TRIGGER endpoints_truncated
    AFTER TRUNCATE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION handover_endpoints_changed();
