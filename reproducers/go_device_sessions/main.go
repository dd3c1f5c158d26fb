// go_device_sessions: a Go MQTT gateway (paho.mqtt.golang) that leaks a goroutine and a
// subscription handler per device session; -fixed runs the same traffic without the leak.
// It serves net/http/pprof on loopback, as the reference guide's step 1 asks, so the e2e
// test fetches /debug/pprof/heap and /debug/pprof/goroutine and diffs them with heapdiff.
//
// Protocol on stdout (for the test harness, like the C++ reproducers' --sync):
//
//	PPROF <host:port>       the pprof listener is up
//	WARM <pid> <sessions>   after -warmup sessions; with -sync, waits for a line on stdin
//	DONE <pid> <sessions>   after -sessions more; with -sync, waits for a line on stdin
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// busy is 1 while sessions run (the watchdog ignores the stops, where the harness takes its
// time).
var busy int32

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_device_sessions: error: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	host := flag.String("host", "127.0.0.1", "broker host")
	port := flag.Int("port", 1883, "broker port")
	pprofAddr := flag.String("pprof", "127.0.0.1:0", "net/http/pprof listen address (loopback; port 0 = any free port)")
	warmup := flag.Int("warmup", 5, "sessions before the WARM stop")
	sessions := flag.Int("sessions", 50, "sessions between the WARM and DONE stops (0 = until killed)")
	rate := flag.Float64("rate", 0, "sessions per second (0 = as fast as the broker answers)")
	fixed := flag.Bool("fixed", false, "run the leak-free twin")
	sync := flag.Bool("sync", false, "wait for a line on stdin after WARM and after DONE")
	memRate := flag.Int("memprofilerate", 1, "runtime.MemProfileRate: 1 records every allocation, so heap counts are exact")
	flag.Parse()
	if flag.NArg() > 0 {
		fail("unexpected argument %q (see -h)", flag.Arg(0))
	}
	if *port <= 0 || *port > 65535 {
		fail("-port %d: expected 1..65535", *port)
	}
	if *warmup < 0 || *sessions < 0 || *memRate < 0 || *rate < 0 {
		fail("-warmup, -sessions, -rate and -memprofilerate must not be negative")
	}
	runtime.MemProfileRate = *memRate

	ln, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		fail("pprof listener: %v", err)
	}
	go func() { _ = http.Serve(ln, nil) }()

	opts := mqtt.NewClientOptions().
		AddBroker(fmt.Sprintf("tcp://%s:%d", *host, *port)).
		SetClientID(fmt.Sprintf("leakprobe-go-gateway-%d", os.Getpid())).
		SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(false)
	client := mqtt.NewClient(opts)
	if t := client.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		fail("cannot connect to the broker at %s:%d: %v", *host, *port, t.Error())
	}
	defer client.Disconnect(250)

	g := &gateway{client: client, fixed: *fixed, acks: make(chan string, 1)}
	fmt.Printf("PPROF %s\n", ln.Addr())
	stdin := bufio.NewReader(os.Stdin)
	var next int64
	// One watchdog for the whole run: a session that makes no progress for 10 s (broker gone,
	// message lost; longer if -rate spaces sessions further apart) ends the program with a
	// message instead of a hang.
	window := 10 * time.Second
	if *rate > 0 && time.Duration(3*float64(time.Second) / *rate) > window {
		window = time.Duration(3 * float64(time.Second) / *rate)
	}
	go func() {
		last := int64(-1)
		for range time.Tick(window) {
			if now := atomic.LoadInt64(&next); now == last && atomic.LoadInt32(&busy) == 1 {
				fail("session dev-%d made no progress for %v (is the broker still up?)", now, window)
			} else {
				last = now
			}
		}
	}()
	var pace <-chan time.Time
	if *rate > 0 {
		pace = time.Tick(time.Duration(float64(time.Second) / *rate))
	}
	run := func(n int) {
		atomic.StoreInt32(&busy, 1)
		for i := 0; n == 0 || i < n; i++ {
			if pace != nil {
				<-pace
			}
			if err := g.runSession(fmt.Sprintf("dev-%d", atomic.LoadInt64(&next))); err != nil {
				fail("%v", err)
			}
			atomic.AddInt64(&next, 1)
		}
		atomic.StoreInt32(&busy, 0)
	}
	stop := func(word string, n int) {
		fmt.Printf("%s %d %d\n", word, os.Getpid(), n)
		if *sync {
			if _, err := stdin.ReadString('\n'); err != nil {
				fail("stdin closed while waiting after %s", word)
			}
		}
	}
	if *warmup > 0 {
		run(*warmup)
	}
	stop("WARM", *warmup)
	run(*sessions)
	stop("DONE", *sessions)
}
