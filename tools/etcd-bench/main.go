// etcd-bench: the workload of `zkv bench` (closed loop, N clients, uniform keys, percentiles),
// driven against etcd v3 through its Go client, so that both systems are measured the same way.
//
// Build offline with Debian's golang-go and golang-etcd-server-dev (GOPATH mode):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/etcd-bench ./tools/etcd-bench
//
// Mirrors zkv bench (client/zkv_cli_bench.c) on purpose:
//   - each client has its own clientv3.Client (its own gRPC connection) and its own goroutine,
//     and sends its next request as soon as the last one is answered;
//   - keys are "k" + the key number zero-padded to --key-bytes, drawn uniformly from --keys;
//   - every written value is unique: x<client>.<n> padded with '.' and ended by ';';
//   - gets are linearizable (etcd's default Range; no WithSerializable);
//   - throughput counts requests answered inside the window; latency percentiles are taken over
//     every answered request, with the same index rule (sorted[floor(p/100*n)]);
//   - the summary is printed in zkv bench's text or --json format.
//
// By default every client talks to the leader only (--target leader), as zkv's client does
// (it follows leader hints); --target all spreads the clients over all endpoints instead.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

type options struct {
	endpoints  []string
	target     string
	clients    int
	seconds    int
	keys       int
	keyBytes   int
	valueBytes int
	mix        [2]int // get, put percentages
	timeout    time.Duration
	json       bool
}

type worker struct {
	index    int
	latUs    []uint32 // latency of each answered request (µs)
	ok       uint64   // answered inside the window
	timeouts uint64   // context deadline exceeded (outcome unknown)
	failed   uint64   // any other error
	lastErr  error
}

func parseOptions() (*options, error) {
	o := &options{}
	var endpoints, mix string
	flag.StringVar(&endpoints, "endpoints", "127.0.0.1:2379", "comma-separated client URLs or host:port")
	flag.StringVar(&o.target, "target", "leader", "leader: every client talks to the leader; all: clients spread over all endpoints")
	flag.IntVar(&o.clients, "clients", 16, "concurrent clients, one connection each")
	flag.IntVar(&o.seconds, "seconds", 10, "duration")
	flag.IntVar(&o.keys, "keys", 1000, "distinct keys")
	flag.IntVar(&o.keyBytes, "key-bytes", 16, "key length")
	flag.IntVar(&o.valueBytes, "value-bytes", 128, "written value length")
	flag.StringVar(&mix, "mix", "50:50", "percentages of get:put (a third field, append, must be 0)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "bound on each request")
	flag.BoolVar(&o.json, "json", false, "summary as one JSON object")
	flag.Parse()
	if flag.NArg() != 0 {
		return nil, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	for _, e := range strings.Split(endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			o.endpoints = append(o.endpoints, e)
		}
	}
	parts := strings.Split(mix, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("bad --mix %q", mix)
	}
	var m [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad --mix %q", mix)
		}
		m[i] = v
	}
	if m[0]+m[1]+m[2] != 100 || m[2] != 0 {
		return nil, fmt.Errorf("bad --mix %q: get:put must sum to 100 (etcd has no append)", mix)
	}
	o.mix = [2]int{m[0], m[1]}
	switch {
	case len(o.endpoints) == 0:
		return nil, errors.New("no --endpoints")
	case o.target != "leader" && o.target != "all":
		return nil, fmt.Errorf("bad --target %q (leader or all)", o.target)
	case o.clients < 1 || o.seconds < 1 || o.keys < 1 || o.keyBytes < 2 || o.valueBytes < 1:
		return nil, errors.New("--clients, --seconds, --keys, --value-bytes must be >= 1, --key-bytes >= 2")
	}
	return o, nil
}

func newClient(endpoints []string) (*clientv3.Client, error) {
	quiet := zap.NewProductionConfig()
	quiet.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Connect before the clock starts, so connection setup is not measured.
		DialOptions: []grpc.DialOption{grpc.WithBlock()},
		LogConfig:   &quiet,
	})
}

// findLeader asks each endpoint for its status and returns the one that is the leader.
func findLeader(endpoints []string) (string, error) {
	c, err := newClient(endpoints)
	if err != nil {
		return "", err
	}
	defer c.Close()
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := c.Status(ctx, ep)
		cancel()
		if err == nil && st.Header.MemberId == st.Leader {
			return ep, nil
		}
	}
	return "", errors.New("no endpoint reports itself the leader")
}

func run(o *options, w *worker, c *clientv3.Client, stop *int32, done *uint64, endNs int64, t0 time.Time) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(w.index+1)*0x2545F4914F6CDD1D))
	width := o.keyBytes - 1
	counter := 0
	var value []byte
	for atomic.LoadInt32(stop) == 0 {
		key := fmt.Sprintf("k%0*d", width, rng.Intn(o.keys))
		isGet := rng.Intn(100) < o.mix[0]
		if !isGet {
			counter++
			value = append(value[:0], fmt.Sprintf("x%d.%d", w.index, counter)...)
			for len(value)+1 < o.valueBytes {
				value = append(value, '.')
			}
			value = append(value, ';')
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		start := time.Now()
		var err error
		if isGet {
			_, err = c.Get(ctx, key)
		} else {
			_, err = c.Put(ctx, key, string(value))
		}
		end := time.Now()
		cancel()
		switch {
		case err == nil:
			us := end.Sub(start).Microseconds()
			if us > int64(^uint32(0)) {
				us = int64(^uint32(0))
			}
			w.latUs = append(w.latUs, uint32(us))
			if int64(end.Sub(t0)) <= endNs {
				w.ok++
			}
		case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "DeadlineExceeded"):
			w.timeouts++
			w.lastErr = err
		default:
			w.failed++
			w.lastErr = err
		}
		atomic.AddUint64(done, 1)
	}
}

func pct(sorted []uint32, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(p / 100.0 * float64(n))
	if i >= n {
		i = n - 1
	}
	return float64(sorted[i]) / 1000.0
}

func report(o *options, workers []*worker, secs float64, target string) {
	var ok, timeouts, failed uint64
	var all []uint32
	var sum float64
	var lastErr error
	for _, w := range workers {
		ok += w.ok
		timeouts += w.timeouts
		failed += w.failed
		all = append(all, w.latUs...)
		for _, l := range w.latUs {
			sum += float64(l)
		}
		if w.lastErr != nil {
			lastErr = w.lastErr
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	n := len(all)
	var max, mean float64
	if n > 0 {
		max = float64(all[n-1]) / 1000.0
		mean = sum / float64(n) / 1000.0
	}
	p50, p90, p99, p999 := pct(all, 50), pct(all, 90), pct(all, 99), pct(all, 99.9)
	tput := float64(ok) / secs
	if o.json {
		out := map[string]interface{}{
			"system": "etcd", "target": target,
			"clients": o.clients, "seconds": secs, "keys": o.keys, "key_bytes": o.keyBytes,
			"value_bytes": o.valueBytes, "mix": []int{o.mix[0], o.mix[1], 0},
			"ok": ok, "timeouts": timeouts, "failed": failed, "ops_per_sec": tput,
			"latency_ms": map[string]float64{"p50": p50, "p90": p90, "p99": p99, "p99.9": p999,
				"max": max, "mean": mean},
		}
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	} else {
		fmt.Printf("etcd bench: %d clients, %.1f s, %d keys of %d bytes, values of %d bytes, get:put %d:%d, target %s\n",
			o.clients, secs, o.keys, o.keyBytes, o.valueBytes, o.mix[0], o.mix[1], target)
		fmt.Printf("ops:        %d ok, %d timed out (outcome unknown), %d failed\n", ok, timeouts, failed)
		fmt.Printf("throughput: %.1f ops/s\n", tput)
		fmt.Printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
			p50, p90, p99, p999, max, mean)
	}
	if lastErr != nil {
		fmt.Fprintf(os.Stderr, "etcd-bench: last error: %v\n", lastErr)
	}
}

func main() {
	o, err := parseOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-bench: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	endpoints := o.endpoints
	target := "all"
	if o.target == "leader" {
		leader, err := findLeader(o.endpoints)
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench: %v\n", err)
			os.Exit(1)
		}
		endpoints = []string{leader}
		target = "leader " + leader
	}
	// One client (one gRPC connection) per worker, like zkv bench's one zkv_client per thread.
	// With --target all, worker i pins to endpoint i mod N so the load is spread evenly.
	clients := make([]*clientv3.Client, o.clients)
	for i := range clients {
		eps := endpoints
		if o.target == "all" {
			eps = []string{endpoints[i%len(endpoints)]}
		}
		if clients[i], err = newClient(eps); err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench: cannot connect to %v: %v\n", eps, err)
			os.Exit(1)
		}
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()

	workers := make([]*worker, o.clients)
	var stop int32
	var done uint64
	endNs := int64(o.seconds) * int64(time.Second)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = &worker{index: i, latUs: make([]uint32, 0, 4096)}
		wg.Add(1)
		go func(w *worker, c *clientv3.Client) {
			defer wg.Done()
			run(o, w, c, &stop, &done, endNs, t0)
		}(workers[i], clients[i])
	}
	// Progress once a second on stderr, as zkv bench does.
	var last uint64
	for s := 1; s <= o.seconds; s++ {
		time.Sleep(time.Until(t0.Add(time.Duration(s) * time.Second)))
		d := atomic.LoadUint64(&done)
		fmt.Fprintf(os.Stderr, "[%3ds] %d ops/s, %d ops\n", s, d-last, d)
		last = d
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	report(o, workers, float64(endNs)/1e9, target)
}
