package store

import (
	"context"
	"fmt"
)

// LatestConversationOfUser returns the newest handover of a bot user at an
// endpoint, open or ended: the Copilot workspace's conversation when the agent's
// script passes only the user id.
func (s *Store) LatestConversationOfUser(ctx context.Context, endpointID int64, userID string) (Conversation, error) {
	var c Conversation
	err := s.db.WithContext(ctx).Where("endpoint_id = ? AND user_id = ?", endpointID, userID).Order("id DESC").Take(&c).Error
	if err != nil {
		return Conversation{}, fmt.Errorf("find the latest conversation of user %q: %w", userID, translate(err))
	}
	return c, nil
}
