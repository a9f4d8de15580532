package relay

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"handover/store"
	"handover/store/storetest"
)

// recordingFanout is a Fanout that keeps what was published.
type recordingFanout struct {
	mu  sync.Mutex
	got []Signal
}

func (f *recordingFanout) Publish(s Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, s)
}

func (f *recordingFanout) Run(ctx context.Context, deliver func(Signal)) error {
	<-ctx.Done()
	return nil
}

func TestTheBrokerHandsWhatItPublishesToItsFanoutAndDeliversAllTopics(t *testing.T) {
	f := &recordingFanout{}
	b := NewBrokerWith(f)
	sess, _ := b.Subscribe("session:1:a")
	list, _ := b.Subscribe(ConversationsTopic)
	b.Publish("session:1:a", Signal{Kind: "typing", From: "agent", Duration: 10})
	if s := <-sess; s.Kind != "typing" || s.From != "agent" {
		t.Fatalf("local subscriber got %+v", s)
	}
	if len(f.got) != 1 || f.got[0].Topic != "session:1:a" || f.got[0].Duration != 10 {
		t.Fatalf("fanout got %+v", f.got)
	}
	b.deliver(Signal{Topic: AllTopics, Kind: "changed"})
	for _, ch := range []<-chan Signal{sess, list} {
		if s := <-ch; s.Kind != "changed" || s.Topic == AllTopics {
			t.Fatalf("after AllTopics a subscriber got %+v", s)
		}
	}
}

func TestPostgresFanoutCarriesSignalsBetweenInstancesOnce(t *testing.T) {
	url := storetest.DatabaseURL(t, store.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fanA, fanB := NewPostgresFanout(url, nil), NewPostgresFanout(url, nil)
	a, b := NewBrokerWith(fanA), NewBrokerWith(fanB)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.Run(ctx) })
	wg.Go(func() { b.Run(ctx) })

	onA, _ := a.Subscribe("session:1:s1")
	onB, _ := b.Subscribe("session:1:s1")
	receive := func(ch <-chan Signal, want func(Signal) bool) Signal {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case s := <-ch:
				if want(s) {
					return s
				}
			case <-timeout:
				t.Fatal("no signal within 5 s")
			}
		}
	}
	// Each listener announces its (re)connect with a resync "changed".
	receive(onA, func(s Signal) bool { return s.Kind == "changed" })
	receive(onB, func(s Signal) bool { return s.Kind == "changed" })

	a.Publish("session:1:s1", Signal{Kind: "typing", From: "agent", Duration: 1234})
	got := receive(onB, func(s Signal) bool { return s.Kind == "typing" })
	if got.Topic != "session:1:s1" || got.From != "agent" || got.Duration != 1234 {
		t.Fatalf("b got %+v", got)
	}
	// a heard it once, from itself, not again through Postgres.
	receive(onA, func(s Signal) bool { return s.Kind == "typing" })
	select {
	case s := <-onA:
		t.Fatalf("a got its own signal back: %+v", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestFanoutPayloadsStayUnderTheNotifyLimitAndSendRepeatsOnce(t *testing.T) {
	f := NewPostgresFanout("postgres://unused", nil)
	var batch []Signal
	for i := range 300 {
		batch = append(batch, Signal{Topic: "session:1:" + strings.Repeat("x", 150) + strconv.Itoa(i), Kind: "changed"})
	}
	batch = append(batch, Signal{Topic: ConversationsTopic, Kind: "changed"}, Signal{Topic: ConversationsTopic, Kind: "changed"})
	payloads := f.payloads(batch)
	if len(payloads) < 2 {
		t.Fatalf("%d payloads for a large batch", len(payloads))
	}
	for _, p := range payloads {
		if len(p) >= 8000 {
			t.Fatalf("payload of %d bytes", len(p))
		}
	}
	if n := strings.Count(strings.Join(payloads, ""), `"t":"conversations"`); n != 1 {
		t.Fatalf("a repeated changed signal was sent %d times", n)
	}
}
