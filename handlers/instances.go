package handlers

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// InstanceStore is what the instances page reads.
type InstanceStore interface {
	ListInstances(ctx context.Context) ([]store.Instance, map[string][]store.Ownership, error)
	OutboxLeasesByOwner(ctx context.Context) (map[string]int64, error)
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	Now() time.Time
}

// Instances lists the instances on the database and what each owns
// (docs/scaling.md), to the console and the admin API.
type Instances struct {
	Store     InstanceStore
	DeadAfter time.Duration // HANDOVER_INSTANCE_DEAD_AFTER
}

// instanceResponse is one instance in GET /api/v1/admin/instances.
type instanceResponse struct {
	ID            string              `json:"id"`
	Version       string              `json:"version"`
	Address       string              `json:"address"`
	StartedAt     time.Time           `json:"startedAt"`
	LastHeartbeat time.Time           `json:"lastHeartbeat"`
	StoppedAt     *time.Time          `json:"stoppedAt,omitempty"`
	Alive         bool                `json:"alive"`
	Owns          []ownershipResponse `json:"owns"`
	// OutboxLeases is how many Genesys calls the instance is sending now.
	OutboxLeases int64 `json:"outboxLeases"`
}

// ownershipResponse is an OAuth client whose notification channel and polls
// the instance runs, with the endpoints that use the client.
type ownershipResponse struct {
	Name      string             `json:"name"`
	Until     time.Time          `json:"until"`
	Endpoints []endpointListItem `json:"endpoints"`
}

type endpointListItem struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (h *Instances) list(ctx context.Context) ([]instanceResponse, error) {
	instances, owns, err := h.Store.ListInstances(ctx)
	if err != nil {
		return nil, err
	}
	leases, err := h.Store.OutboxLeasesByOwner(ctx)
	if err != nil {
		return nil, err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	now := h.Store.Now()
	out := make([]instanceResponse, len(instances))
	for i, inst := range instances {
		r := instanceResponse{ID: inst.ID, Version: inst.Version, Address: inst.Address, StartedAt: inst.StartedAt, LastHeartbeat: inst.HeartbeatAt,
			StoppedAt: inst.StoppedAt, Alive: inst.Alive(now, h.DeadAfter), Owns: []ownershipResponse{}, OutboxLeases: leases[inst.ID]}
		for _, o := range owns[inst.ID] {
			item := ownershipResponse{Name: o.Name, Until: o.ExpiresAt, Endpoints: []endpointListItem{}}
			for _, e := range relay.OwnershipEndpoints(o.Name, endpoints) {
				item.Endpoints = append(item.Endpoints, endpointListItem{ID: e.ID, Name: e.Name})
			}
			r.Owns = append(r.Owns, item)
		}
		out[i] = r
	}
	return out, nil
}

// APIList answers GET /api/v1/admin/instances.
func (h *Instances) APIList(c *fiber.Ctx) error {
	instances, err := h.list(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"instances": instances, "deadAfterSeconds": h.DeadAfter.Seconds()})
}

// Page answers GET /instances.
func (h *Instances) Page(c *fiber.Ctx) error {
	instances, err := h.list(c.UserContext())
	if err != nil {
		return err
	}
	rows := make([]views.InstanceRow, len(instances))
	for i, inst := range instances {
		row := views.InstanceRow{ID: inst.ID, Version: inst.Version, Address: inst.Address, StartedAt: inst.StartedAt, LastHeartbeat: inst.LastHeartbeat,
			Stopped: inst.StoppedAt != nil, Alive: inst.Alive, OutboxLeases: inst.OutboxLeases}
		for _, o := range inst.Owns {
			for _, e := range o.Endpoints {
				row.Owns = append(row.Owns, views.Option{Value: strconv.FormatInt(e.ID, 10), Label: e.Name})
			}
		}
		rows[i] = row
	}
	return page(c, fiber.StatusOK, "Instances", "instances", views.InstancesPage(views.InstancesProps{Rows: rows, DeadAfter: h.DeadAfter}))
}
