package live

import (
	"context"
	"sync"
	"testing"
)

func TestBrokerDeliversEachTopicToItsSubscribersAndClosesOnce(t *testing.T) {
	b := NewBroker()
	both, stopBoth := b.SubscribeAll("a", "b")
	onlyA, _ := b.Subscribe("a")
	b.Publish("b", Signal{Kind: Changed})
	if s := <-both; s.Topic != "b" {
		t.Fatalf("got %+v", s)
	}
	select {
	case s := <-onlyA:
		t.Fatalf("a subscriber of a got %+v", s)
	default:
	}
	if b.Subscribers() != 2 {
		t.Fatalf("%d subscribers", b.Subscribers())
	}
	stopBoth()
	stopBoth() // twice is harmless
	if _, open := <-both; open {
		t.Fatal("channel open after unsubscribe")
	}
	b.Close()
	if _, open := <-onlyA; open {
		t.Fatal("channel open after Close")
	}
	if ch, _ := b.Subscribe("a"); func() bool { _, open := <-ch; return open }() {
		t.Fatal("subscribing to a closed broker gave an open channel")
	}
}

func TestASlowSubscriberNeverBlocksPublishers(t *testing.T) {
	b := NewBroker()
	b.Subscribe("a")
	for range subscriberBuffer * 10 {
		b.Publish("a", Signal{Kind: Changed})
	}
}

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
	sess, _ := b.Subscribe(Session(1, "a"))
	list, _ := b.Subscribe(Conversations)
	b.Publish(Session(1, "a"), Signal{Kind: Typing, From: "agent", Duration: 10})
	if s := <-sess; s.Kind != Typing || s.From != "agent" {
		t.Fatalf("local subscriber got %+v", s)
	}
	if len(f.got) != 1 || f.got[0].Topic != "session:1:a" || f.got[0].Duration != 10 {
		t.Fatalf("fanout got %+v", f.got)
	}
	b.deliver(Signal{Topic: AllTopics, Kind: Changed})
	for _, ch := range []<-chan Signal{sess, list} {
		if s := <-ch; s.Kind != Changed || s.Topic == AllTopics {
			t.Fatalf("after AllTopics a subscriber got %+v", s)
		}
	}
}

func TestConsoleTopicsAreTheConsolesOwnAndMapToTheirEventNames(t *testing.T) {
	for _, ok := range []string{"conversations", "webhooks", "apicalls", "conversation:42"} {
		if _, allowed := ConsoleTopic(ok); !allowed {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "session:1:a", "conversation:", "conversation:4x", "*", "conversations2"} {
		if _, allowed := ConsoleTopic(bad); allowed {
			t.Errorf("%q allowed", bad)
		}
	}
	if Conversation(42).Event() != "conversation-42" || Conversation(42).Trigger() != "sse:conversation-42" || Conversation(42).TypingEvent() != "conversation-42-typing" {
		t.Fatalf("event names %q %q", Conversation(42).Event(), Conversation(42).Trigger())
	}
	if q := Query(Conversations, Webhooks); q != "topics=conversations,webhooks" {
		t.Fatalf("query %q", q)
	}
}
