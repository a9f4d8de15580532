package relay

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestTheRelayRefusesNULCharactersItWouldStore(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	e := store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "t", Provider: store.ProviderGenesysCloudOM, IntegrationID: "integration-1"}
	if err := s.CreateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Store: s})
	handover := func(req HandoverRequest) error {
		req.UserID, req.SessionID = "u"+req.UserID, "s"+req.SessionID
		_, err := r.StartHandover(ctx, e, req)
		return err
	}
	message := func(m UserMessage) error {
		m.UserID, m.SessionID = "u"+m.UserID, "s"+m.SessionID
		_, err := r.SendUserMessage(ctx, e, m)
		return err
	}
	cases := []struct {
		name  string
		err   error
		field string
	}{
		{"a user id", handover(HandoverRequest{UserID: "\x00"}), "userId"},
		{"a session id", handover(HandoverRequest{SessionID: "\x00"}), "sessionId"},
		{"a custom attribute's value", handover(HandoverRequest{CustomAttributes: map[string]string{"tier": "gold\x00"}}), "customAttributes.tier"},
		{"a custom attribute's name", handover(HandoverRequest{CustomAttributes: map[string]string{"ti\x00er": "gold"}}), "customAttributes."},
		{"a transcript's text", handover(HandoverRequest{Transcript: []TranscriptEntry{{Source: "user", Text: "hi"}, {Source: "bot", Text: "\x00"}}}), "transcript[1].text"},
		{"a message's session id", message(UserMessage{SessionID: "\x00", Text: "hi"}), "sessionId"},
		{"a message's text", message(UserMessage{Text: "hi\x00"}), "text"},
		{"a quick reply", message(UserMessage{QuickReply: &QuickReplyClick{Text: "Yes\x00", OriginatingMessageID: "m"}}), "data.quickReply"},
	}
	for _, c := range cases {
		var refused *Error
		if !errors.As(c.err, &refused) || !errors.Is(c.err, ErrInvalidInput) || !strings.HasPrefix(refused.Field, c.field) || refused.Code != "nul_character" || !strings.HasPrefix(refused.Message, c.field) {
			t.Errorf("%s with U+0000: %v, want an invalid-input nul_character naming %s", c.name, c.err, c.field)
		}
	}
	if conv, err := s.LatestConversation(ctx, e.ID, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused handover was stored: %+v %v", conv, err)
	}
}
