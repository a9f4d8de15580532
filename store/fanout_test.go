package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestPostgresFanoutCarriesSignalsBetweenInstancesOnce(t *testing.T) {
	url := storetest.DatabaseURL(t, store.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fanA, fanB := store.NewPostgresFanout(url, nil), store.NewPostgresFanout(url, nil)
	a, b := live.NewBrokerWith(fanA), live.NewBrokerWith(fanB)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.Run(ctx) })
	wg.Go(func() { b.Run(ctx) })

	onA, _ := a.Subscribe(live.Session(1, "s1"))
	onB, _ := b.Subscribe(live.Session(1, "s1"))
	receive := func(ch <-chan live.Signal, want func(live.Signal) bool) live.Signal {
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
	receive(onA, func(s live.Signal) bool { return s.Kind == live.Changed })
	receive(onB, func(s live.Signal) bool { return s.Kind == live.Changed })

	a.Publish(live.Session(1, "s1"), live.Signal{Kind: live.Typing, From: "agent", Duration: 1234})
	got := receive(onB, func(s live.Signal) bool { return s.Kind == live.Typing })
	if got.Topic != live.Session(1, "s1") || got.From != "agent" || got.Duration != 1234 {
		t.Fatalf("b got %+v", got)
	}
	// a heard it once, from itself, not again through Postgres.
	receive(onA, func(s live.Signal) bool { return s.Kind == live.Typing })
	select {
	case s := <-onA:
		t.Fatalf("a got its own signal back: %+v", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestFanoutPayloadsStayUnderTheNotifyLimitAndSendRepeatsOnce(t *testing.T) {
	f := store.NewPostgresFanout("postgres://unused", nil)
	var batch []live.Signal
	for i := range 300 {
		batch = append(batch, live.Signal{Topic: live.Session(1, strings.Repeat("x", 150)+strconv.Itoa(i)), Kind: live.Changed})
	}
	batch = append(batch, live.Signal{Topic: live.Conversations, Kind: live.Changed}, live.Signal{Topic: live.Conversations, Kind: live.Changed})
	payloads := store.FanoutPayloads(f, batch)
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
