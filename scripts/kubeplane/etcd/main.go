// Command etcd is a single-member etcd on loopback for the tests' control
// plane: go.etcd.io/etcd/server/v3/embed with a data directory and the two
// URLs it is given, nothing else.
//
//	etcd DATA-DIR CLIENT-URL PEER-URL
package main

import (
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: etcd DATA-DIR CLIENT-URL PEER-URL")
		os.Exit(2)
	}
	client, err := url.Parse(os.Args[2])
	if err != nil {
		log.Fatalf("etcd: client URL %q: %v", os.Args[2], err)
	}
	peer, err := url.Parse(os.Args[3])
	if err != nil {
		log.Fatalf("etcd: peer URL %q: %v", os.Args[3], err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = os.Args[1]
	cfg.Name = "sre-test"
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.LogLevel = "warn"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("etcd: %v", err)
	}
	defer e.Close()
	<-e.Server.ReadyNotify()
	fmt.Fprintln(os.Stderr, "etcd: ready on", client.String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-e.Err():
		log.Fatalf("etcd: %v", err)
	case <-sig:
	}
}
