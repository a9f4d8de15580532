package sandbox

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/handover-relay/handover/genesys"
)

func TestTheBotListPutIsValidatedAgainstTheBotListModel(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddBotConnectorIntegration("Bots", "https://example.invalid/botconnector", "X-Key", "value-0123456789abcdef")
	good := genesys.BotList{ChatBots: []genesys.BotConnectorBot{{ID: "handover-endpoint-1", Name: "Support", Versions: []genesys.BotConnectorBotVersion{
		{Version: "1", SupportedLanguages: []string{"en-us"}, Intents: []genesys.BotIntent{{Name: "handover"}}}}}}}
	if err := h.client(t, testClientSecret).PutBotConnectorBots(context.Background(), in.ID, good); err != nil {
		t.Fatalf("a good bot list: %v", err)
	}
	if got, ok := h.sb.BotList(in.ID); !ok || got.ChatBots[0].ID != "handover-endpoint-1" {
		t.Fatalf("the sandbox kept %+v", got)
	}
	token := h.token(t)
	path := genesys.BotConnectorBotsPath(in.ID)
	for name, body := range map[string]string{
		"no chatBots":               `{}`,
		"a bot without versions":    `{"chatBots":[{"id":"b"}]}`,
		"a version without intents": `{"chatBots":[{"id":"b","versions":[{"version":"1","supportedLanguages":["en-us"]}]}]}`,
		"an intent without a name":  `{"chatBots":[{"id":"b","versions":[{"version":"1","supportedLanguages":["en-us"],"intents":[{}]}]}]}`,
		"a name with spaces round":  `{"chatBots":[{"id":" b ","versions":[{"version":"1","supportedLanguages":["en-us"],"intents":[]}]}]}`,
		"no languages":              `{"chatBots":[{"id":"b","versions":[{"version":"1","supportedLanguages":[],"intents":[]}]}]}`,
		"not JSON":                  `{"chatBots":`,
	} {
		resp, answer := h.call(t, token, http.MethodPut, path, body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(answer), "bad.request") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, answer)
		}
	}
	resp, _ := h.call(t, token, http.MethodPut, genesys.BotConnectorBotsPath("0f1e2d3c-4b5a-4978-8a7b-6c5d4e3f2a1b"), good)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown integration: %d", resp.StatusCode)
	}
}
