package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
)

// The sandbox's queues answer the two calls a bot's availability check
// makes (docs/genesys.md §Queues) from its own state: the agents the desk
// put On Queue, and the conversations waiting or with an agent.

// SetAgentsOnQueue sets how many agents are On Queue for the queue, zero
// included: the desk's way to play "nobody is there".
func (s *Sandbox) SetAgentsOnQueue(queueID string, n int) error {
	if n < 0 {
		return fmt.Errorf("agents on queue: %d is negative", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queues {
		if q.id == queueID {
			s.queues[i].agentsOnQueue = n
			return nil
		}
	}
	return ErrUnknownQueue
}

// QueueFigures is a queue as its observation shows it.
type QueueFigures struct {
	AgentsOnQueue int
	AgentsIdle    int // On Queue and with no conversation
	Waiting       int // conversations with no agent connected
	Interacting   int // conversations with an agent connected
}

// QueueFigures reads a queue's live figures.
func (s *Sandbox) QueueFigures(queueID string) (QueueFigures, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queueLocked(queueID)
	if !ok {
		return QueueFigures{}, ErrUnknownQueue
	}
	return s.figuresLocked(q), nil
}

// figuresLocked counts a queue's conversations; each connected agent is
// busy with one conversation, so idle agents are the On Queue ones left.
func (s *Sandbox) figuresLocked(q queue) QueueFigures {
	f := QueueFigures{AgentsOnQueue: q.agentsOnQueue}
	for _, conv := range s.convs {
		if conv.QueueID != q.id {
			continue
		}
		switch conv.State {
		case StateWaiting:
			f.Waiting++
		case StateConnected:
			f.Interacting++
		}
	}
	f.AgentsIdle = max(0, f.AgentsOnQueue-f.Interacting)
	return f
}

// estimateLocked is the sandbox's estimated wait for a new conversation:
// none without agents; nothing when an agent is idle and nobody waits;
// otherwise one handle time for each full round of the On Queue agents
// through the conversations ahead. Genesys's own formulas (BEST, SIMPLE, …)
// use its history; this one only has to move the right way.
func (s *Sandbox) estimateLocked(f QueueFigures) (time.Duration, bool) {
	switch {
	case f.AgentsOnQueue == 0:
		return 0, false
	case f.AgentsIdle > f.Waiting:
		return 0, true
	}
	ahead := f.Waiting - f.AgentsIdle + 1
	rounds := (ahead + f.AgentsOnQueue - 1) / f.AgentsOnQueue
	return time.Duration(rounds) * s.cfg.HandleTime, true
}

// observeQueues is POST /api/v2/analytics/queues/observations/query. It
// reads the queue ids of the filter's queueId predicates (and of its
// clauses) and answers one group per queue with the metrics asked for.
func (s *Sandbox) observeQueues(c *fiber.Ctx) error {
	body := slices.Clone(c.Body())
	if err := s.spec.ValidateRequestBody("QueueObservationQuery", body); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	var query struct {
		Filter struct {
			Predicates []genesys.QueueObservationQueryPredicate `json:"predicates"`
			Clauses    []struct {
				Predicates []genesys.QueueObservationQueryPredicate `json:"predicates"`
			} `json:"clauses"`
		} `json:"filter"`
		Metrics []string `json:"metrics"`
	}
	if err := json.Unmarshal(body, &query); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	predicates := query.Filter.Predicates
	for _, clause := range query.Filter.Clauses {
		predicates = append(predicates, clause.Predicates...)
	}
	var ids []string
	for _, p := range predicates {
		if p.Dimension == "queueId" && !slices.Contains(ids, p.Value) {
			ids = append(ids, p.Value)
		}
	}
	if len(ids) == 0 {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", "A queue observation query needs a queueId predicate.")
	}
	count := func(n int) genesys.StatisticalSummary { v := int64(n); return genesys.StatisticalSummary{Count: &v} }
	s.mu.Lock()
	out := genesys.QueueObservationQueryResponse{Results: []genesys.QueueObservationDataContainer{}}
	for _, id := range ids {
		container := genesys.QueueObservationDataContainer{Group: map[string]string{"queueId": id}}
		if q, ok := s.queueLocked(id); ok {
			f := s.figuresLocked(q)
			for _, metric := range query.Metrics {
				switch metric {
				case genesys.MetricOnQueueUsers:
					container.Data = append(container.Data,
						genesys.ObservationMetricData{Metric: metric, Qualifier: genesys.RoutingStatusIdle, Stats: count(f.AgentsIdle)},
						genesys.ObservationMetricData{Metric: metric, Qualifier: "INTERACTING", Stats: count(f.AgentsOnQueue - f.AgentsIdle)})
				case genesys.MetricWaiting:
					container.Data = append(container.Data, genesys.ObservationMetricData{Metric: metric, Qualifier: genesys.MediaTypeMessage, Stats: count(f.Waiting)})
				case genesys.MetricInteracting:
					container.Data = append(container.Data, genesys.ObservationMetricData{Metric: metric, Qualifier: genesys.MediaTypeMessage, Stats: count(f.Interacting)})
				}
			}
		}
		out.Results = append(out.Results, container)
	}
	s.mu.Unlock()
	return c.JSON(out)
}

// estimatedWaitTime is GET /api/v2/routing/queues/{queueId}/mediatypes/{mediaType}/estimatedwaittime.
func (s *Sandbox) estimatedWaitTime(c *fiber.Ctx) error {
	id := c.Params("queueId")
	s.mu.Lock()
	q, ok := s.queueLocked(id)
	var wait time.Duration
	var known bool
	if ok {
		wait, known = s.estimateLocked(s.figuresLocked(q))
	}
	s.mu.Unlock()
	if !ok {
		return s.apiError(c, fiber.StatusNotFound, "not.found", "Queue "+id+" does not exist or you lack permission to view it")
	}
	out := genesys.EstimatedWaitTimePredictions{Results: []genesys.PredictionResults{}}
	if known {
		out.Results = append(out.Results, genesys.PredictionResults{
			Intent: c.Params("mediaType"), Formula: "SIMPLE", EstimatedWaitTimeSeconds: int(wait / time.Second),
		})
	}
	return c.JSON(out)
}
