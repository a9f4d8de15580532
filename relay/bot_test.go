package relay_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// slowBot answers only when the caller gives up: the bot that is too slow.
func slowBot(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL
}

func botConnectorTurn(session, text string) genesys.BotConnectorRequest {
	return genesys.BotConnectorRequest{BotID: "b", BotVersion: "1", BotSessionID: session, MessageID: "m1",
		InputMessage: genesys.BotConnectorInput{Type: "Text", Text: text}, LanguageCode: "en-us", GenesysConversationID: "g-1"}
}

func TestATooSlowBotGetsFailedWithErrorInfoWithinTheBotTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	g := newEngine(t, func(c *relay.Config) { c.BotTimeout, c.BotHTTPClient = timeout, http.DefaultClient })
	e := g.e
	e.Type, e.BotURL = store.TypeGenesysBotConnector, slowBot(t)
	started := time.Now()
	resp, err := g.relay.BotConnectorTurn(context.Background(), e, botConnectorTurn("slow", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(started); elapsed > timeout+2*time.Second {
		t.Errorf("the turn took %s with a bot timeout of %s", elapsed, timeout)
	}
	if resp.BotState != genesys.BotStateFailed || resp.ErrorInfo == nil || resp.ErrorInfo.ErrorCode != "bot_timeout" {
		t.Fatalf("a too slow bot: %+v", resp)
	}
	conv, err := g.store.LatestConversation(context.Background(), e.ID, "botconnector:slow")
	if err != nil || conv.State != store.StateFailed || conv.EndReason != store.ReasonBotFailed {
		t.Fatalf("the conversation: %+v %v", conv, err)
	}
}

func TestTheDemoChatAsksTheEndpointsExternalBot(t *testing.T) {
	g := newEngine(t, func(c *relay.Config) { c.BotHTTPClient = http.DefaultClient })
	signing := g.withBotWebhook("https://bot.example.com/events") // the turn is signed with its secret
	verified := make(chan error, 1)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, _ := svix.NewWebhook(signing)
		verified <- wh.Verify(body, r.Header)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"replies":[{"text":"Handing over to billing."}],"handover":true,"intent":"handover","parameters":{"skills":"billing, vip"}}`))
	}))
	t.Cleanup(bot.Close)
	e := g.e
	e.BotURL = bot.URL
	answer, err := g.relay.DemoBot(context.Background(), e, "u1", "demo-1", "anything", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(answer.Outputs) != 1 || answer.Outputs[0] != "Handing over to billing." || answer.Conversation == nil {
		t.Fatalf("answer %+v", answer)
	}
	if err := <-verified; err != nil {
		t.Fatalf("the bot could not verify the turn with the endpoint's signing secret: %v", err)
	}
	if got := answer.Conversation.Skills; len(got) != 2 || got[0] != "billing" || got[1] != "vip" {
		t.Fatalf("the handover's skills %v, want the bot's", got)
	}
}

// Two instances on one database get the same turn at once, as when Genesys
// retries a slow turn through the load balancer: the bot is asked once and
// both answer what it said.
func TestATurnRetriedAtAnotherInstanceAsksTheBotOnceAndBothAnswerAlike(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		dbURL := storetest.DatabaseURL(t, d)
		ctx := context.Background()
		var asked atomic.Int64
		reached := make(chan struct{}, 4)
		release := make(chan struct{})
		bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := asked.Add(1)
			reached <- struct{}{}
			<-release
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"replies":[{"text":"answer %d"}]}`, n)
		}))
		t.Cleanup(bot.Close)
		first := storetest.OpenWith(t, dbURL, store.Options{})
		e := store.Endpoint{OrganisationID: 1, Name: "bc", URLToken: "bc-token", Type: store.TypeGenesysBotConnector, BotURL: bot.URL}
		if err := first.CreateEndpoint(ctx, &e); err != nil {
			t.Fatal(err)
		}
		instances := []*relay.Relay{
			relay.New(relay.Config{Store: first, BotHTTPClient: http.DefaultClient, BotTimeout: 20 * time.Second}),
			relay.New(relay.Config{Store: storetest.OpenWith(t, dbURL, store.Options{}), BotHTTPClient: http.DefaultClient, BotTimeout: 20 * time.Second}),
		}
		answers := make(chan string, 2)
		ask := func(r *relay.Relay) {
			resp, err := r.BotConnectorTurn(ctx, e, botConnectorTurn("retried", "hello"))
			if err != nil || len(resp.ReplyMessages) != 1 {
				answers <- fmt.Sprintf("error %v %+v", err, resp)
				return
			}
			answers <- resp.ReplyMessages[0].Text
		}
		go ask(instances[0])
		<-reached // the first attempt asks the bot
		go ask(instances[1])
		close(release)
		a, b := <-answers, <-answers
		if a != "answer 1" || b != "answer 1" || asked.Load() != 1 {
			t.Fatalf("asked the bot %d times; answers %q and %q", asked.Load(), a, b)
		}
	})
}
