package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// Several instances of the real binary on one PostgreSQL database, killed
// and stopped as an orchestrator would (docs/scaling.md): they spend one
// OAuth client's Genesys budget together, run one notification channel per
// client, and take a dead instance's work over within seconds.

const fleetAPIKey = "fleet-test-admin-api-key-0123456789"

// fleet is the binary's instances on one database, handing over to the sandbox.
type fleet struct {
	t       *testing.T
	bin     string
	g       *genesysFake
	dbURL   string
	env     map[string]string
	members []*member
	token   string // the endpoint's URL token
}

// member is one running instance.
type member struct {
	proc *process
	base string
	addr string
}

// newFleet builds the binary, starts the first of n instance addresses and
// creates the endpoint through it; the sandbox's webhooks go to the last
// address, an instance the tests never stop.
func newFleet(t *testing.T, g *genesysFake, n int, env map[string]string) *fleet {
	t.Helper()
	storetest.SkipWithoutPostgres(t)
	f := &fleet{t: t, bin: buildBinary(t), g: g, dbURL: storetest.DatabaseURL(t, store.Postgres), env: env}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = testkit.FreeAddr(t)
		f.members = append(f.members, &member{addr: addrs[i], base: "http://" + addrs[i]})
	}
	f.start(0)
	const clientSecret, webhookSecret = "fleet-client-secret", "fleet-webhook-secret-0123456789"
	g.AddClient(e2eClientID, clientSecret)
	g.AddQueue(e2eQueueID, "Support")
	g.AddIntegration(e2eDeployment, "http://"+addrs[n-1]+"/handover/genesysCloudOM", webhookSecret)
	f.token = adminCreateEndpoint(t, f.members[0].base, fleetAPIKey, map[string]any{
		"name": "Fleet", "host": g.base, "deploymentName": e2eDeployment, "queueId": e2eQueueID,
		"webhookSecret": webhookSecret, "clientId": e2eClientID, "clientSecret": clientSecret,
	})
	return f
}

// start runs instance i.
func (f *fleet) start(i int) *member {
	f.t.Helper()
	m := f.members[i]
	vars := map[string]string{
		"HANDOVER_ADDR": m.addr, "HANDOVER_DATABASE_URL": f.dbURL, "HANDOVER_SANDBOX": "false",
		"HANDOVER_SECRET_KEY": e2eSecretKey, "HANDOVER_ADMIN_API_KEY": fleetAPIKey, "HANDOVER_ADMIN_PASSWORD": "fleet-password",
		"HANDOVER_GENESYS_REQUESTS_PER_MINUTE": "1000000", "HANDOVER_LOG_LEVEL": "info",
	}
	maps.Copy(vars, noLimits)
	maps.Copy(vars, f.env)
	m.proc = startBinary(f.t, f.bin, binaryEnv(vars), m.base)
	f.t.Cleanup(func() {
		if f.t.Failed() {
			f.t.Logf("instance %d output:\n%s", i, m.proc.out)
		}
	})
	return m
}

// post sends a JSON body to an instance's bot API and wants 202.
func (m *member) post(t *testing.T, path string, body any) {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(m.base+path, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		out, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
	}
}

// adminGet reads the admin API of an instance into out.
func (m *member) adminGet(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+fleetAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, out) != nil {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
	}
}

// listedInstance is one entry of GET /api/v1/admin/instances.
type listedInstance struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Alive   bool   `json:"alive"`
	Owns    []struct {
		Endpoints []struct {
			Name string `json:"name"`
		} `json:"endpoints"`
	} `json:"owns"`
}

// owner is the index of the instance that owns the endpoint's OAuth client,
// as the instances API says; -1 when none does.
func (f *fleet) owner(via *member) int {
	f.t.Helper()
	var out struct {
		Instances []listedInstance `json:"instances"`
	}
	via.adminGet(f.t, "/api/v1/admin/instances", &out)
	for _, inst := range out.Instances {
		if !inst.Alive || len(inst.Owns) == 0 {
			continue
		}
		for i, m := range f.members {
			if _, port, _ := strings.Cut(m.addr, ":"); strings.HasSuffix(inst.Address, ":"+port) {
				return i
			}
		}
	}
	return -1
}

// clientChannels are the sandbox's notification channels of the test's OAuth client.
func clientChannels(g *genesysFake) []sandbox.ChannelInfo {
	var out []sandbox.ChannelInfo
	for _, ch := range g.Channels() {
		if ch.ClientID == e2eClientID {
			out = append(out, ch)
		}
	}
	return out
}

// arrivalJitter is how many calls a stretch of the sandbox's record may hold
// beyond the bucket's promise: the sandbox stamps a call when it arrives,
// and a call that took its token earlier may arrive late, beside the next.
// Budgets per instance would exceed the promise by dozens.
const arrivalJitter = 2

func TestThreeInstancesSpendOneGenesysBudgetAndHoldOneChannel(t *testing.T) {
	const perMinute, burst = 60, 6 // HANDOVER_GENESYS_REQUESTS_PER_MINUTE and its tenth
	// The sandbox allows the client exactly what the budget allows in any
	// minute: a 429 would mean the instances spent more together.
	g := startSandbox(t, func(c *sandbox.Config) { c.RequestsPerMinute = perMinute + burst })
	f := newFleet(t, g, 3, map[string]string{"HANDOVER_GENESYS_REQUESTS_PER_MINUTE": fmt.Sprint(perMinute)})
	f.start(1)
	f.start(2)
	started := time.Now()

	// 200 messages wait: 20 handovers and 9 messages each, spread over the three.
	const sessions, perSession = 20, 9
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			sid := fmt.Sprintf("s%02d", i)
			f.members[i%3].post(t, "/"+f.token+"/handover", map[string]any{"userId": "u" + sid, "sessionId": sid})
			for j := range perSession {
				f.members[(i+j+1)%3].post(t, "/"+f.token, map[string]any{"userId": "u" + sid, "sessionId": sid, "text": fmt.Sprintf("%s m%02d", sid, j)})
			}
		})
	}
	wg.Wait()

	// Enough calls to see the rate: a budget per instance would spend 40
	// in a few seconds; one shared budget takes more than half a minute.
	const observed = 40
	calls := func() []sandbox.APICall {
		var out []sandbox.APICall
		for _, c := range g.APICalls() {
			if c.ClientID == e2eClientID {
				out = append(out, c)
			}
		}
		return out
	}
	testkit.WaitFor(t, 90*time.Second, fmt.Sprintf("%d Genesys calls", observed), func() bool { return len(calls()) >= observed })
	got := calls()
	t.Logf("%d calls to Genesys in %s with a budget of %d/min", len(got), time.Since(started).Round(time.Millisecond), perMinute)
	// A token bucket's promise, for every stretch of the observed calls: at
	// most the burst plus the rate times its length (and arrivalJitter).
	maxInMinute := 0
	for i := range got {
		for j := i; j < len(got); j++ {
			span := got[j].Time.Sub(got[i].Time)
			if allowed := burst + arrivalJitter + int(span.Seconds()*perMinute/60); j-i+1 > allowed {
				t.Fatalf("%d calls in %s (calls %d to %d): more than the shared budget's %d", j-i+1, span, i, j, allowed)
			}
			if span < time.Minute {
				maxInMinute = max(maxInMinute, j-i+1)
			}
		}
	}
	t.Logf("at most %d calls in any minute (budget %d + burst %d)", maxInMinute, perMinute, burst)
	for _, r := range g.Rejected() {
		if r.Status == http.StatusTooManyRequests {
			t.Fatalf("Genesys answered 429 to %s %s: the instances spent more than the client's limit together", r.Method, r.Path)
		}
	}
	// One channel for the client however many instances run, connected.
	testkit.WaitFor(t, 30*time.Second, "the client's channel connected", func() bool {
		ch := clientChannels(g)
		return len(ch) > 0 && ch[0].Connected
	})
	if ch := clientChannels(g); len(ch) != 1 {
		t.Fatalf("%d notification channels for one OAuth client across three instances; want 1: %+v", len(ch), ch)
	}
	if owner := f.owner(f.members[2]); owner < 0 {
		t.Fatal("no instance owns the OAuth client")
	}
}

func TestKillingTheChannelOwnerMovesItsChannelAndEndDetectionWithin15s(t *testing.T) {
	g := startSandbox(t, nil)
	f := newFleet(t, g, 3, nil)
	f.start(1)
	f.start(2)
	testkit.WaitFor(t, 30*time.Second, "the client's channel connected", func() bool {
		ch := clientChannels(g)
		return len(ch) == 1 && ch[0].Connected
	})
	owner := f.owner(f.members[2])
	if owner < 0 {
		t.Fatal("no instance owns the OAuth client")
	}
	channel := clientChannels(g)[0].ID
	other := f.members[(owner+1)%3]

	other.post(t, "/"+f.token+"/handover", map[string]any{"userId": "u-kill", "sessionId": "kill"})
	var convID string
	testkit.WaitFor(t, 15*time.Second, "the handover at Genesys", func() bool {
		for _, c := range g.Conversations() {
			convID = c.ID
		}
		return convID != ""
	})
	state := func() string {
		var out struct {
			Conversations []struct {
				State string `json:"state"`
			} `json:"conversations"`
		}
		other.adminGet(t, "/api/v1/admin/contacts/u-kill", &out)
		if len(out.Conversations) == 0 {
			return ""
		}
		return out.Conversations[0].State
	}
	if err := g.Accept(convID, "Ada"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "the agent joined", func() bool { return state() == store.StateAgentJoined })

	f.members[owner].proc.stop(t, syscall.SIGKILL)
	killed := time.Now()
	// The dead owner's socket hears this end; nobody else has one yet.
	if err := g.AgentEnd(convID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "the end detected by another instance", func() bool { return state() == store.StateEnded })
	took := time.Since(killed)
	t.Logf("end detected %s after the channel owner was killed", took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Fatalf("end detected %s after the kill; want within 15 s", took)
	}
	if next := f.owner(other); next < 0 || next == owner {
		t.Fatalf("owner after the kill: %d (was %d)", next, owner)
	}
	// The new owner reused the dead one's channel: still one for the client.
	testkit.WaitFor(t, 15*time.Second, "the channel connected again", func() bool {
		ch := clientChannels(g)
		return len(ch) > 0 && ch[0].Connected
	})
	if ch := clientChannels(g); len(ch) != 1 || ch[0].ID != channel {
		t.Fatalf("channels after the takeover: %+v; want the one channel %s reused", ch, channel)
	}
}

func TestKillingAnInstanceWithMessagesInFlightLetsTheOthersDeliverThemWithin15s(t *testing.T) {
	testAnInstanceThatGoesHandsItsMessagesOver(t, syscall.SIGKILL, 15*time.Second)
}

func TestStoppingAnInstanceHandsItsMessagesOverWithin3s(t *testing.T) {
	testAnInstanceThatGoesHandsItsMessagesOver(t, syscall.SIGTERM, 3*time.Second)
}

// testAnInstanceThatGoesHandsItsMessagesOver holds 16 of instance A's calls
// in flight at Genesys (the calls arrive, their answers do not), lets B and
// C deliver the rest, then ends A with sig: B and C must deliver every
// message within bound, in order, at most the one in flight twice.
func testAnInstanceThatGoesHandsItsMessagesOver(t *testing.T, sig os.Signal, bound time.Duration) {
	g := startSandbox(t, nil)
	// A's calls must still be waiting for Genesys when A goes: at the
	// default 20 s, a slow machine could reach the signal after they had
	// timed out on their own and been put back for a retry, whose wait
	// the bound would then count.
	f := newFleet(t, g, 3, map[string]string{"HANDOVER_GENESYS_CALL_TIMEOUT": "45s"})
	a := f.members[0]
	const sessions, perSession, held = 20, 10, 16 // held: A's workers, each with one conversation's call
	for i := range sessions {
		sid := fmt.Sprintf("s%02d", i)
		a.post(t, "/"+f.token+"/handover", map[string]any{"userId": "u" + sid, "sessionId": sid})
	}
	testkit.WaitFor(t, 30*time.Second, "every handover at Genesys", func() bool { return len(g.Conversations()) == sessions })

	g.SetFault(sandbox.Fault{SlowAnswer: 5 * time.Minute, Count: held, PathContains: "/inbound/open/message"})
	for i := range sessions {
		sid := fmt.Sprintf("s%02d", i)
		for j := range perSession {
			a.post(t, "/"+f.token, map[string]any{"userId": "u" + sid, "sessionId": sid, "text": fmt.Sprintf("%s m%02d", sid, j)})
		}
	}
	// texts are the user messages at Genesys, by session, as received.
	texts := func() (map[string][]string, int) {
		bySession, total := map[string][]string{}, 0
		for _, rec := range g.Inbound() {
			if m, ok := rec.Parsed.(genesys.InboundMessage); ok && rec.Kind == sandbox.KindMessage {
				if sid, _, ok := strings.Cut(m.Text, " m"); ok && strings.HasPrefix(sid, "s") {
					bySession[sid] = append(bySession[sid], m.Text)
					total++
				}
			}
		}
		return bySession, total
	}
	testkit.WaitFor(t, 30*time.Second, "A's calls in flight", func() bool { _, n := texts(); return n == held })
	f.start(1)
	f.start(2)
	// The conversations A does not hold go through B and C.
	testkit.WaitFor(t, 30*time.Second, "the others' conversations delivered", func() bool {
		_, n := texts()
		return n == held+(sessions-held)*perSession
	})

	a.proc.stop(t, sig)
	gone := time.Now()
	testkit.WaitFor(t, bound+15*time.Second, "every message at Genesys", func() bool {
		bySession, _ := texts()
		for i := range sessions {
			if firsts(bySession[fmt.Sprintf("s%02d", i)]) < perSession {
				return false
			}
		}
		return true
	})
	took := time.Since(gone)
	t.Logf("every message delivered %s after instance A got %v", took.Round(time.Millisecond), sig)
	if took > bound {
		t.Fatalf("delivered %s after %v; want within %s", took, sig, bound)
	}
	bySession, _ := texts()
	for i := range sessions {
		sid := fmt.Sprintf("s%02d", i)
		got := bySession[sid]
		var want []string
		for j := range perSession {
			want = append(want, fmt.Sprintf("%s m%02d", sid, j))
		}
		if seen := slices.Compact(slices.Clone(got)); !slices.Equal(seen, want) {
			t.Errorf("%s reached Genesys as %q; want each in order, the one in flight at most twice in a row", sid, got)
		}
		if len(got) > perSession+1 {
			t.Errorf("%s: %d messages doubled; want at most the one in flight", sid, len(got)-perSession)
		}
	}
}

// firsts counts the distinct texts of a session.
func firsts(texts []string) int {
	seen := map[string]bool{}
	for _, s := range texts {
		seen[s] = true
	}
	return len(seen)
}
