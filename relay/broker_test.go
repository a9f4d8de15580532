package relay

import "testing"

func TestBrokerDeliversEachTopicToItsSubscribersAndClosesOnce(t *testing.T) {
	b := NewBroker()
	both, stopBoth := b.SubscribeAll("a", "b")
	onlyA, _ := b.Subscribe("a")
	b.Publish("b", Signal{Kind: "changed"})
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
		b.Publish("a", Signal{Kind: "changed"})
	}
}
