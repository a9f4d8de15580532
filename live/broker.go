// Package live carries change signals from the handover engine to the event
// streams of bots and console pages: typed topics (and the SSE event name
// each becomes), signal kinds, the broker that fans signals out, and the one
// stream loop every Server-Sent Events route runs. It imports nothing of
// Handover's own.
package live

import (
	"context"
	"sync"
)

// Kind is what a signal says.
type Kind string

const (
	// Changed: something under the topic changed; read it again.
	Changed Kind = "changed"
	// Typing: someone types; the signal says who and for how long.
	Typing Kind = "typing"
)

// Signal tells subscribers that something changed. It carries no state:
// subscribers read what changed from the database (or, for typing, which is
// not worth a read, take it from the signal).
type Signal struct {
	Topic    Topic // set by Publish
	Kind     Kind
	From     string // for typing: who types
	Duration int    // for typing: how long to show it, in milliseconds
}

// Broker fans signals out to the subscribers of a topic within this process,
// and through its Fanout to the other instances on the same database.
type Broker struct {
	fanout Fanout
	mu     sync.Mutex
	topics map[Topic]map[chan Signal]struct{}
	closed bool
}

// Fanout carries signals between the instances that share a database, so a
// change made by one shows on the streams connected to another.
type Fanout interface {
	// Publish hands a signal published in this process to the other
	// instances. It must not block: it is called on request paths.
	Publish(s Signal)
	// Run delivers the other instances' signals until ctx ends. After a gap
	// in which signals may have been lost (a reconnect) it delivers a
	// Signal{Topic: AllTopics}, which tells every subscriber to re-read.
	Run(ctx context.Context, deliver func(Signal)) error
}

// InProcess is the Fanout of a single instance: there is nobody to tell.
type InProcess struct{}

// Publish does nothing.
func (InProcess) Publish(Signal) {}

// Run waits for ctx to end.
func (InProcess) Run(ctx context.Context, _ func(Signal)) error {
	<-ctx.Done()
	return nil
}

// NewBroker returns an empty broker for a single instance.
func NewBroker() *Broker { return NewBrokerWith(InProcess{}) }

// NewBrokerWith returns an empty broker that also reaches other instances
// through fanout.
func NewBrokerWith(fanout Fanout) *Broker {
	if fanout == nil {
		fanout = InProcess{}
	}
	return &Broker{fanout: fanout, topics: map[Topic]map[chan Signal]struct{}{}}
}

// Run carries signals from other instances to this one's subscribers until
// ctx ends.
func (b *Broker) Run(ctx context.Context) error {
	return b.fanout.Run(ctx, b.deliver)
}

// subscriberBuffer bounds what a slow subscriber can fall behind by. A signal
// dropped for a full buffer loses nothing: a "changed" signal is already
// waiting in it, and the subscriber reads everything new from the database.
const subscriberBuffer = 16

// Subscribe returns a channel of the topic's signals and a function that ends
// the subscription. The channel is closed when the broker closes.
func (b *Broker) Subscribe(topic Topic) (<-chan Signal, func()) {
	return b.SubscribeAll(topic)
}

// SubscribeAll is Subscribe for several topics on one channel; each signal
// says its topic.
func (b *Broker) SubscribeAll(topics ...Topic) (<-chan Signal, func()) {
	ch := make(chan Signal, subscriberBuffer)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(ch)
		return ch, func() {}
	}
	for _, topic := range topics {
		if b.topics[topic] == nil {
			b.topics[topic] = map[chan Signal]struct{}{}
		}
		b.topics[topic][ch] = struct{}{}
	}
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		subscribed := false
		for _, topic := range topics {
			if _, ok := b.topics[topic][ch]; ok {
				subscribed = true
				delete(b.topics[topic], ch)
				if len(b.topics[topic]) == 0 {
					delete(b.topics, topic)
				}
			}
		}
		if subscribed {
			close(ch)
		}
	}
}

// Publish sends a signal to every subscriber of the topic, here and on the
// other instances, without waiting.
func (b *Broker) Publish(topic Topic, s Signal) {
	s.Topic = topic
	b.deliver(s)
	b.fanout.Publish(s)
}

// deliver hands a signal to this process's subscribers of its topic (of
// every topic for AllTopics, as a "changed").
func (b *Broker) deliver(s Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.Topic == AllTopics {
		for topic, subs := range b.topics {
			for ch := range subs {
				select {
				case ch <- Signal{Topic: topic, Kind: Changed}:
				default:
				}
			}
		}
		return
	}
	for ch := range b.topics[s.Topic] {
		select {
		case ch <- s:
		default:
		}
	}
}

// Subscribers counts the open subscriptions (for metrics and tests).
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[chan Signal]bool{}
	for _, subs := range b.topics {
		for ch := range subs {
			seen[ch] = true
		}
	}
	return len(seen)
}

// Close ends every subscription, so open event streams finish and a shutdown
// does not wait for them.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	closed := map[chan Signal]bool{}
	for topic, subs := range b.topics {
		for ch := range subs {
			if !closed[ch] {
				close(ch)
				closed[ch] = true
			}
		}
		delete(b.topics, topic)
	}
}
