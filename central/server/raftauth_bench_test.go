package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/state"
)

// BenchmarkRaftDial measures one outbound Raft connection with its
// authentication (TCP connect and TLS handshake, both sides in-process).
// Raft pools its connections, so this is paid per pooled connection, not
// per message.
func BenchmarkRaftDial(b *testing.B) {
	ca, cert, key := tlsFiles(b)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tls", Config{TLS: TLS{CAFile: ca, CertFile: cert, KeyFile: key}}},
		{"join secret", Config{JoinSecret: "a join secret of this cluster, long enough"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := &Server{cfg: tc.cfg, log: discardLog}
			var err error
			if s.tls, err = tc.cfg.TLS.load(); err != nil {
				b.Fatal(err)
			}
			srv, cli, _, err := s.raftTLS()
			if err != nil {
				b.Fatal(err)
			}
			stream, err := newRaftStream("127.0.0.1:0", srv, cli, discardLog)
			if err != nil {
				b.Fatal(err)
			}
			defer stream.Close()
			go func() {
				for {
					c, err := stream.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			b.ResetTimer()
			for range b.N {
				c, err := stream.Dial(raft.ServerAddress(stream.Addr().String()), 5*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkRaftReplicate measures a write committed by a 3-server cluster
// (the leader's Apply until a majority has it) over each transport.
func BenchmarkRaftReplicate(b *testing.B) {
	ca, cert, key := tlsFiles(b)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"plain", func(*Config) {}},
		{"tls", func(c *Config) { c.TLS = TLS{CAFile: ca, CertFile: cert, KeyFile: key} }},
		{"join secret", func(c *Config) { c.JoinSecret = "a join secret of this cluster, long enough" }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			servers := authCluster(b, 3, tc.mod)
			findLeader := func() *Server {
				var leader *Server
				eventually(b, 30*time.Second, func() error {
					for _, s := range servers {
						if s.raft.State() == raft.Leader && s.currentLeader() != nil {
							leader = s
							return nil
						}
					}
					return fmt.Errorf("no leader")
				})
				return leader
			}
			leader := findLeader()
			b.ResetTimer()
			for i := range b.N {
				sum := sha256.Sum256([]byte(strconv.Itoa(i)))
				cmd := &state.Command{Ops: []state.Op{{Security: &state.SecurityOp{UpsertJoinToken: &state.JoinToken{Hash: hex.EncodeToString(sum[:]), Created: 1}}}}}
				// A loaded machine may see an election with dev timings:
				// count the write on the next leader.
				for try := 0; ; try++ {
					_, err := leader.apply(cmd)
					if err == nil {
						break
					}
					if try == 3 {
						b.Fatal(err)
					}
					leader = findLeader()
				}
			}
		})
	}
}
