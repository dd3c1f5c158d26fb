// The component that leaks: a gateway that gives every device session an MQTT subscription
// for the device's commands and a goroutine that handles them. The leaky close forgets both
// (the two mistakes of the reference guide's step 3: Unsubscribe never called, a goroutine
// with no way out). With fixed set, close unsubscribes and stops the goroutine.
package main

import (
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// historyBytes is what one session keeps of its device's recent commands: large enough that
// a leaked session is plain in inuse_space, and a distinctive size.
const historyBytes = 6000

type deviceSession struct {
	id       string
	topic    string
	commands chan []byte   // handler -> watch
	done     chan struct{} // closed by the fixed close: watch returns
	stopped  chan struct{} // closed when watch has returned
	history  [historyBytes]byte
	used     int
}

type gateway struct {
	client mqtt.Client
	fixed  bool
	acks   chan string // watch -> the driver: a command was handled
}

// newDeviceSession allocates one session: the single heap object per session that the e2e
// test counts (the caller builds the strings, so nothing else is allocated here).
//
//go:noinline
func newDeviceSession(id, topic string) *deviceSession {
	return &deviceSession{id: id, topic: topic} // LEAK-SITE heap
}

// watch handles the session's commands until the session is closed. In the leaky gateway
// nothing ever closes done, so one goroutine per session waits here forever.
//
//go:noinline
func (s *deviceSession) watch(acks chan<- string) {
	for {
		select { // LEAK-SITE goroutine (where the leaked goroutines wait)
		case cmd := <-s.commands:
			s.used = copy(s.history[:], cmd)
			acks <- s.id
		case <-s.done:
			return
		}
	}
}

// openSession subscribes to the device's command topic and starts its goroutine.
func (g *gateway) openSession(id string) (*deviceSession, error) {
	s := newDeviceSession(id, "leakprobe/go/devices/"+id+"/cmd")
	s.commands = make(chan []byte, 1)
	s.done = make(chan struct{})
	s.stopped = make(chan struct{})
	go func() {
		defer close(s.stopped)
		s.watch(g.acks)
	}()
	// The handler holds the session: as long as the client's router keeps the handler, the
	// session (and its history) stays reachable.
	handler := func(_ mqtt.Client, m mqtt.Message) {
		select {
		case s.commands <- m.Payload():
		default: // a command is already pending; the device will resend
		}
	}
	if t := g.client.Subscribe(s.topic, 1, handler); !t.Wait() || t.Error() != nil {
		return nil, fmt.Errorf("subscribe %s: %v", s.topic, t.Error())
	}
	return s, nil
}

// closeSession ends a session. The leaky one only drops the gateway's own reference.
func (g *gateway) closeSession(s *deviceSession) error {
	if !g.fixed {
		return nil // BUG: the subscription's handler and the goroutine outlive the session
	}
	if t := g.client.Unsubscribe(s.topic); !t.Wait() || t.Error() != nil {
		return fmt.Errorf("unsubscribe %s: %v", s.topic, t.Error())
	}
	close(s.done)
	// Gone before the next session starts: a profile taken now counts no goroutine of it.
	<-s.stopped
	return nil
}

// runSession is one device session: open it, deliver one command through the broker, close.
// It waits without timers of its own (a timer per session stays on the heap until it fires,
// which would make the twin look like it grows); main's watchdog bounds the wait instead.
func (g *gateway) runSession(id string) error {
	s, err := g.openSession(id)
	if err != nil {
		return err
	}
	payload := []byte("reboot " + id)
	if t := g.client.Publish(s.topic, 1, false, payload); !t.Wait() || t.Error() != nil {
		return fmt.Errorf("publish %s: %v", s.topic, t.Error())
	}
	if got := <-g.acks; got != id {
		return fmt.Errorf("session %s: command acknowledged by session %s", id, got)
	}
	return g.closeSession(s)
}
