package e2e

import (
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
	for _, path := range []string{"/" + token + "/availability", "/chat/" + token, "/copilot?userId=u1&sessionId=s1&URLToken=" + token, "/" + token + "/nowhere"} {
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
	if strings.Contains(logs, token) {
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, token) {
				t.Errorf("the URL token is in the log: %s", line)
			}
		}
	}
}
