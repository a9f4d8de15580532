-- Every instance keeps the endpoints it read in memory (store/endpointcache.go)
-- and empties that cache when this channel is notified (store/endpointwatch.go).
-- A trigger, so that every change is announced, whoever makes it: this
-- instance, another, or an operator's psql. NOTIFY is delivered when the
-- writing transaction commits, to every listening session, and a
-- transaction's identical notifications are folded into one.
CREATE FUNCTION handover_endpoints_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('handover_endpoints', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoints_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION handover_endpoints_changed();
