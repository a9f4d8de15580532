package store

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// endpointCache keeps endpoints as last read, with their secrets open, for
// the hot paths: every webhook finds its endpoint by integration, every bot
// request by URL token, every Genesys call by id. Reading and opening one
// cost a fifth of Handover's CPU under load (docs/performance.md).
//
// On SQLite one process holds the database, and every write to the
// endpoints table goes through this store and empties the cache. On
// PostgreSQL other instances write too: the cache answers only while an
// endpointWatch hears every change (endpointwatch.go), and each change
// empties it.
type endpointCache struct {
	mu      sync.Mutex
	gen     uint64 // moves on every write, so a read that began before it is not kept
	entries map[string][]Endpoint
	armed   bool // false: every read goes to the database
}

// get is a cached answer and the generation to put a fresh one under.
func (c *endpointCache) get(key string) ([]Endpoint, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	found, ok := c.entries[key]
	if !ok || !c.armed {
		return nil, c.gen, false
	}
	out := make([]Endpoint, len(found))
	for i, e := range found {
		out[i] = e.clone()
	}
	return out, c.gen, true
}

// put keeps what a read found, unless an endpoint was written since the read began.
func (c *endpointCache) put(key string, gen uint64, found []Endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed || gen != c.gen || len(found) == 0 || len(c.entries) >= maxCachedEndpointReads {
		return
	}
	kept := make([]Endpoint, len(found))
	for i, e := range found {
		kept[i] = e.clone()
	}
	c.entries[key] = kept
}

// maxCachedEndpointReads bounds the cache; only reads that found an
// endpoint are kept, so the keys are the endpoints' own tokens and ids.
const maxCachedEndpointReads = 10_000

// generation is the count of writes so far.
func (c *endpointCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *endpointCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emptyLocked()
}

// arm lets the cache answer, from empty.
func (c *endpointCache) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emptyLocked()
	c.armed = true
}

// disarm sends every read to the database again.
func (c *endpointCache) disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emptyLocked()
	c.armed = false
}

func (c *endpointCache) emptyLocked() {
	c.gen++
	clear(c.entries)
}

// clone copies e with its own maps, slices and times, so that a caller who
// edits what it got does not edit the cache.
func (e Endpoint) clone() Endpoint {
	e.DefaultSkills = slices.Clone(e.DefaultSkills)
	e.DefaultCustomAttributes = maps.Clone(e.DefaultCustomAttributes)
	e.AttributeNames = maps.Clone(e.AttributeNames)
	e.Waiting.Messages = maps.Clone(e.Waiting.Messages)
	for _, t := range []**time.Time{&e.PreviousWebhookSecretUntil, &e.ClockSkewAt, &e.PreviousURLTokenUntil, &e.PreviousBotWebhookSecretUntil} {
		if *t != nil {
			copied := **t
			*t = &copied
		}
	}
	return e
}

// endpointsChanged empties the endpoint cache after a write to the
// endpoints table; inside a transaction, again once it has committed.
func (s *Store) endpointsChanged() {
	s.endpoints.invalidate()
	if s.txWroteEndpoints != nil {
		*s.txWroteEndpoints = true
	}
}

// cachedEndpoints answers read from the cache when it may, keeping its answer.
// A transaction may use it until it writes an endpoint itself: on SQLite it
// holds the only writer, so what it reads is what was committed; on
// PostgreSQL, where its reads see what others commit meanwhile (READ
// COMMITTED), what it reads is what was last committed and heard.
func (s *Store) cachedEndpoints(key string, read func() ([]Endpoint, error)) ([]Endpoint, error) {
	if s.txWroteEndpoints != nil && *s.txWroteEndpoints {
		return read()
	}
	found, gen, ok := s.endpoints.get(key)
	if ok {
		return found, nil
	}
	found, err := read()
	if err == nil {
		s.endpoints.put(key, gen, found)
	}
	return found, err
}
