package genesys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Queue observation metrics Handover reads (docs/genesys.md §Queues).
const (
	MetricOnQueueUsers = "oOnQueueUsers" // agents On Queue, qualified by routing status
	MetricWaiting      = "oWaiting"      // conversations waiting in the queue
	MetricInteracting  = "oInteracting"  // conversations with an agent
)

// RoutingStatusIdle qualifies the On Queue agents who could take a
// conversation now.
const RoutingStatusIdle = "IDLE"

// MediaTypeMessage is the media type of Open Messaging conversations.
const MediaTypeMessage = "message"

// QueueObservationQuery is the body of POST
// /api/v2/analytics/queues/observations/query.
type QueueObservationQuery struct {
	Filter  QueueObservationQueryFilter `json:"filter"`
	Metrics []string                    `json:"metrics"`
}

// QueueObservationQueryFilter combines predicates with Type "and" or "or".
type QueueObservationQueryFilter struct {
	Type       string                           `json:"type"`
	Predicates []QueueObservationQueryPredicate `json:"predicates,omitempty"`
}

// QueueObservationQueryPredicate is a dimension = value test.
type QueueObservationQueryPredicate struct {
	Type      string `json:"type,omitempty"`
	Dimension string `json:"dimension,omitempty"`
	Operator  string `json:"operator,omitempty"`
	Value     string `json:"value,omitempty"`
}

// QueueObservationQueryResponse is the answer: one container per group.
type QueueObservationQueryResponse struct {
	Results []QueueObservationDataContainer `json:"results,omitempty"`
}

// QueueObservationDataContainer holds the metrics of one group (one queue).
type QueueObservationDataContainer struct {
	Group map[string]string       `json:"group,omitempty"`
	Data  []ObservationMetricData `json:"data,omitempty"`
}

// ObservationMetricData is one metric, for one qualifier (a routing status
// for oOnQueueUsers, a media type for oWaiting; docs/genesys.md §Queues).
type ObservationMetricData struct {
	Metric    string             `json:"metric,omitempty"`
	Qualifier string             `json:"qualifier,omitempty"`
	Stats     StatisticalSummary `json:"stats,omitempty"`
}

// StatisticalSummary carries the observation's count.
type StatisticalSummary struct {
	Count *int64 `json:"count,omitempty"`
}

// EstimatedWaitTimePredictions is the answer of GET
// /api/v2/routing/queues/{queueId}/mediatypes/{mediaType}/estimatedwaittime.
type EstimatedWaitTimePredictions struct {
	Results []PredictionResults `json:"results"`
}

// PredictionResults is one estimate.
type PredictionResults struct {
	Intent                   string `json:"intent,omitempty"`
	Formula                  string `json:"formula"`
	EstimatedWaitTimeSeconds int    `json:"estimatedWaitTimeSeconds"`
}

// QueueObservation is what Handover takes from a queue observation: how
// many agents are On Queue, how many of them are idle, and how many message
// conversations wait or are with an agent.
type QueueObservation struct {
	AgentsOnQueue int
	AgentsIdle    int
	Waiting       int
	Interacting   int
}

// ObserveQueue asks Genesys for the queue's live figures. It needs
// analytics:queueObservation:view.
func (c *Client) ObserveQueue(ctx context.Context, queueID string) (QueueObservation, error) {
	if queueID == "" {
		return QueueObservation{}, errors.New("observe queue: no queue id")
	}
	query := QueueObservationQuery{
		Filter: QueueObservationQueryFilter{Type: "and", Predicates: []QueueObservationQueryPredicate{
			{Type: "dimension", Dimension: "queueId", Operator: "matches", Value: queueID},
		}},
		Metrics: []string{MetricOnQueueUsers, MetricWaiting, MetricInteracting},
	}
	var out QueueObservationQueryResponse
	if err := c.call(ctx, http.MethodPost, "/api/v2/analytics/queues/observations/query", nil, query, &out); err != nil {
		return QueueObservation{}, fmt.Errorf("observe queue %s: %w", queueID, err)
	}
	return out.Observation(queueID), nil
}

// Observation sums the answer for one queue. oOnQueueUsers comes once per
// routing status; oWaiting and oInteracting per media type when the query
// does not filter on it, and only message conversations count. A data
// item without a qualifier counts too: which form Genesys sends is
// UNCERTAIN (docs/genesys.md §Queues).
func (r QueueObservationQueryResponse) Observation(queueID string) QueueObservation {
	var o QueueObservation
	for _, container := range r.Results {
		if id, ok := container.Group["queueId"]; ok && id != queueID {
			continue
		}
		for _, d := range container.Data {
			if d.Stats.Count == nil {
				continue
			}
			n := int(*d.Stats.Count)
			message := d.Qualifier == "" || strings.EqualFold(d.Qualifier, MediaTypeMessage)
			switch d.Metric {
			case MetricOnQueueUsers:
				o.AgentsOnQueue += n
				if strings.EqualFold(d.Qualifier, RoutingStatusIdle) {
					o.AgentsIdle += n
				}
			case MetricWaiting:
				if message {
					o.Waiting += n
				}
			case MetricInteracting:
				if message {
					o.Interacting += n
				}
			}
		}
	}
	return o
}

// EstimatedWaitTime asks Genesys how long a new message conversation would
// wait in the queue. ok is false when Genesys has no estimate. It needs
// routing:queue:view.
func (c *Client) EstimatedWaitTime(ctx context.Context, queueID string) (seconds int, ok bool, err error) {
	if queueID == "" {
		return 0, false, errors.New("estimated wait time: no queue id")
	}
	path := "/api/v2/routing/queues/" + url.PathEscape(queueID) + "/mediatypes/" + MediaTypeMessage + "/estimatedwaittime"
	var out EstimatedWaitTimePredictions
	if err := c.call(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return 0, false, fmt.Errorf("estimated wait time of queue %s: %w", queueID, err)
	}
	for _, r := range out.Results {
		if r.EstimatedWaitTimeSeconds >= 0 {
			return r.EstimatedWaitTimeSeconds, true, nil
		}
	}
	return 0, false, nil
}
