package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// BotConnectorTurn is the answer Handover gave one Bot Connector turn, kept
// so that Genesys's retry of the turn gets it again. Answer is "" while the
// first attempt is still asking the bot.
type BotConnectorTurn struct {
	EndpointID   int64  `gorm:"primaryKey;autoIncrement:false"`
	BotSessionID string `gorm:"primaryKey"`
	MessageID    string `gorm:"primaryKey"`
	Answer       string
	CreatedAt    time.Time
}

// ClaimBotConnectorTurn claims a turn for the caller to answer: claimed is
// true when no attempt had it yet. Otherwise answer is what the earlier
// attempt answered ("" while it is still asking the bot). Turns created
// before forgetBefore are forgotten on the way, which keeps the table to the
// turns Genesys may still retry.
func (s *Store) ClaimBotConnectorTurn(ctx context.Context, endpointID int64, sessionID, messageID string, now, forgetBefore time.Time) (answer string, claimed bool, err error) {
	db := s.db.WithContext(ctx)
	if err := db.Where("created_at < ?", forgetBefore.UTC()).Delete(&BotConnectorTurn{}).Error; err != nil {
		return "", false, fmt.Errorf("forget old Bot Connector turns: %w", err)
	}
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&BotConnectorTurn{EndpointID: endpointID, BotSessionID: sessionID, MessageID: messageID, CreatedAt: now.UTC()})
	if res.Error != nil {
		return "", false, fmt.Errorf("claim Bot Connector turn %q of session %q: %w", messageID, sessionID, res.Error)
	}
	if res.RowsAffected == 1 {
		return "", true, nil
	}
	answer, err = s.BotConnectorTurnAnswer(ctx, endpointID, sessionID, messageID)
	if errors.Is(err, ErrNotFound) {
		// Forgotten between the insert and the read: nobody has it now.
		return s.ClaimBotConnectorTurn(ctx, endpointID, sessionID, messageID, now, forgetBefore)
	}
	return answer, false, err
}

// BotConnectorTurnAnswer is the answer kept for a turn, "" while the
// attempt that claimed it is still asking the bot.
func (s *Store) BotConnectorTurnAnswer(ctx context.Context, endpointID int64, sessionID, messageID string) (string, error) {
	var t BotConnectorTurn
	err := s.db.WithContext(ctx).Where("endpoint_id = ? AND bot_session_id = ? AND message_id = ?", endpointID, sessionID, messageID).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read Bot Connector turn %q of session %q: %w", messageID, sessionID, err)
	}
	return t.Answer, nil
}

// SetBotConnectorTurnAnswer keeps the answer given to a claimed turn.
func (s *Store) SetBotConnectorTurnAnswer(ctx context.Context, endpointID int64, sessionID, messageID, answer string) error {
	err := s.db.WithContext(ctx).Model(&BotConnectorTurn{}).Where("endpoint_id = ? AND bot_session_id = ? AND message_id = ?", endpointID, sessionID, messageID).
		Update("answer", answer).Error
	if err != nil {
		return fmt.Errorf("keep the answer of Bot Connector turn %q of session %q: %w", messageID, sessionID, err)
	}
	return nil
}

// ReleaseBotConnectorTurn gives up a claimed turn that got no answer (the
// attempt failed), so that Genesys's retry is answered afresh.
func (s *Store) ReleaseBotConnectorTurn(ctx context.Context, endpointID int64, sessionID, messageID string) error {
	err := s.db.WithContext(ctx).Where("endpoint_id = ? AND bot_session_id = ? AND message_id = ? AND answer = ''", endpointID, sessionID, messageID).
		Delete(&BotConnectorTurn{}).Error
	if err != nil {
		return fmt.Errorf("release Bot Connector turn %q of session %q: %w", messageID, sessionID, err)
	}
	return nil
}
