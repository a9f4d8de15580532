package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestTheURLTokenNeverReachesTheProcessLog(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_LOG_FORMAT": "json"}
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"})
	next(t, events, "state")
	inst.post("/"+token, map[string]any{"userId": "u1", "sessionId": "s1", "text": "hello"})
	if resp, err := http.Post(inst.base+"/"+token+"/sessions/s1/typing", "application/json", nil); err == nil {
		resp.Body.Close()
	}
	copilotToken, demoToken := d.endpoint.CopilotToken, d.endpoint.DemoToken
	for _, path := range []string{"/" + token + "/availability", "/chat/" + demoToken, "/copilot?userId=u1&sessionId=s1&URLToken=" + copilotToken, "/copilot?URLToken=" + token, "/" + token + "/nowhere"} {
		resp, err := http.Get(inst.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	inst.post("/"+token+"/sessions/s1/end", nil)
	next(t, events, "state")
	inst.stopOrFail()
	logs := inst.logs.String()
	if !strings.Contains(logs, `"path":"/:token/handover"`) {
		t.Fatalf("the request log does not name the route pattern:\n%s", logs)
	}
	for name, other := range map[string]string{"Copilot token": copilotToken, "demo chat token": demoToken} {
		if strings.Contains(logs, other) {
			t.Errorf("the %s is in the log", name)
		}
	}
	if strings.Contains(logs, token) {
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, token) {
				t.Errorf("the URL token is in the log: %s", line)
			}
		}
	}
}

// TestMaskIPAddressMasksTheClientAddressInTheRequestLogOfThatEndpointOnly
// is maskIpAddress (docs/privacy.md): the bot API's request lines of the
// endpoint show 127.0.0.0 for a call from 127.0.0.1, and console requests,
// which belong to no endpoint, keep the address.
func TestMaskIPAddressMasksTheClientAddressInTheRequestLogOfThatEndpointOnly(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_LOG_FORMAT": "json"}
	inst := d.start()
	e := d.endpoint
	e.Privacy.MaskIPAddress = true
	if err := inst.srv.Store.UpdateEndpoint(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	token := e.URLToken
	if status, body := inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"}); status != http.StatusAccepted && status != http.StatusOK {
		t.Fatalf("handover: %d %v", status, body)
	}
	resp, err := http.Get(inst.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	inst.stopOrFail()
	var bot, console int
	for _, line := range strings.Split(inst.logs.String(), "\n") {
		switch {
		case strings.Contains(line, `"path":"/:token/handover"`):
			bot++
			if !strings.Contains(line, `"remote_ip":"127.0.0.0"`) {
				t.Errorf("the endpoint's request line does not mask the address: %s", line)
			}
		case strings.Contains(line, `"path":"/login"`):
			console++
			if !strings.Contains(line, `"remote_ip":"127.0.0.1"`) {
				t.Errorf("a console request line lost its address: %s", line)
			}
		}
	}
	if bot == 0 || console == 0 {
		t.Fatalf("request lines: %d of the bot API, %d of the console; want both", bot, console)
	}
}
