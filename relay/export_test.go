package relay

import (
	"context"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// ApplyGenesysState lets the black-box tests apply a participant snapshot,
// as a queue event or a poll would.
func (r *Relay) ApplyGenesysState(ctx context.Context, conv store.Conversation, participants []genesys.Participant) error {
	return r.applyGenesysState(ctx, conv, participants)
}
