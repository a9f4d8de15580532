-- The participant data names under which routing data reaches the Genesys
-- flow, per endpoint; a name left out keeps its default (relay.RoutingAttributes).
ALTER TABLE endpoints ADD COLUMN attribute_names TEXT NOT NULL DEFAULT '{}';
