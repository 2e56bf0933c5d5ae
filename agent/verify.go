package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/agent/session"
	"github.com/tether-edge/tether/protocol"
)

// Signed messages and key rotation (docs/security.md). An enrolled agent
// applies a desired state or service set only when central's pinned key
// signed it. When one is signed, but not with the pinned key, central may
// have rotated its key: the agent holds the message, fetches central's key
// chain (GET /v1/security/keyring, at most once per KeyRefreshInterval),
// checks every endorsement from its pinned key on (protocol.VerifyKeyChain)
// and re-pins the newest key, stored in data_dir/enrolment.json. The held
// messages then go through the normal path again. A chain that does not
// verify is counted (Counters.BadKeyChain), logged, and changes nothing.
//
// Key generations. Central signs with its active key first and the key
// before it second (it co-signs after a rotation). A desired state whose
// first signature is not the pinned key's, but a later one is, comes from
// a newer key: it is held and the chain fetched, like one the pinned key
// did not sign at all. So the agent accepts a desired state only when the
// pinned key is the active one, and the Raft index it orders desired
// states by counts within one pinned key: the first desired state
// accepted after a re-pin replaces the held one whatever its index. A
// stolen key that signed a desired state with a huge index therefore
// locks the node out only until central rotates its key (docs/security.md).

// KeyRefreshInterval is the least time between two key chain fetches.
const KeyRefreshInterval = 30 * time.Second

// newerKeyRefresh is that least time when the pinned key co-signed the
// message behind a newer key (newerKey).
const newerKeyRefresh = time.Second

// Limits of the key chain fetch.
const (
	maxKeyChainBody = 1 << 20
	keyChainTimeout = 10 * time.Second
	maxHeld         = 64      // messages held while the chain is fetched
	maxHeldBytes    = 4 << 20 // and their bytes; the oldest go first
)

// keyPin is central's signing key the agent trusts and the machinery that
// follows its rotations. Its methods are safe from any goroutine; a nil
// *keyPin (an agent that was not enrolled) verifies nothing.
type keyPin struct {
	path    string // enrolment file rewritten on a re-pin
	central string // central's HTTP URL; "" cannot follow rotations
	client  *http.Client
	log     *slog.Logger
	every   time.Duration
	// redeliver hands a held message back to the Run goroutine (non-blocking).
	redeliver func(topic string, payload []byte) bool
	// onRepin, if set, is called after a new key is pinned, before the
	// held messages are handed back (from the fetching goroutine).
	onRepin func()

	badChain atomic.Uint64 // key chains refused
	repinned atomic.Uint64 // newer keys pinned

	mu  sync.Mutex // guards the fields below
	pub ed25519.PublicKey
	gen int64 // re-pins since the agent started
	// heldGen is gen when the held desired state was accepted; older
	// (smaller) when it was accepted under a key since replaced.
	heldGen   int64
	heldKnown bool        // heldGen is set (else it is worked out from the cache)
	last      time.Time   // when the last fetch started
	fetching  bool        // a fetch is running
	due       *time.Timer // a fetch put off by the rate limit (fetchDue), nil: none
	dueAt     time.Time   // when due fires
	held      []heldMsg   // messages signed by an unknown key, oldest first
	heldSize  int         // bytes in held
}

// heldMsg is a message held while the key chain is fetched.
type heldMsg struct {
	topic   string
	payload []byte
}

func newKeyPin(path, central string, pub ed25519.PublicKey, client *http.Client, log *slog.Logger, events chan<- session.Event) *keyPin {
	return &keyPin{path: path, central: central, pub: pub, client: client, log: log, every: KeyRefreshInterval,
		redeliver: func(topic string, payload []byte) bool {
			select {
			case events <- session.Event{Kind: session.Message, Topic: topic, Payload: payload}:
				return true
			default:
				return false
			}
		}}
}

// key returns the pinned key (nil on a nil keyPin).
func (p *keyPin) key() ed25519.PublicKey {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pub
}

func (p *keyPin) badChains() uint64 {
	if p == nil {
		return 0
	}
	return p.badChain.Load()
}

// unknownKey holds a message that is signed, but not with the pinned key,
// and starts a key chain fetch unless one ran less than p.every ago; then
// the fetch is due when that interval ends, so held messages never wait
// for another message to arrive.
func (p *keyPin) unknownKey(topic string, payload []byte) {
	p.hold(topic, payload, p.every)
}

// newerKey holds a message the pinned key co-signed behind a newer key:
// central after a rotation (or a thief of the pinned key, who can do
// worse). Only every newerKeyRefresh does it fetch the chain, so that
// rotations in quick succession are followed at once.
func (p *keyPin) newerKey(topic string, payload []byte) {
	p.hold(topic, payload, min(p.every, newerKeyRefresh))
}

func (p *keyPin) hold(topic string, payload []byte, every time.Duration) {
	if p.central == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Several per topic: a forged message must not push out central's.
	p.held = append(p.held, heldMsg{topic, payload})
	p.heldSize += len(payload)
	for len(p.held) > maxHeld || (p.heldSize > maxHeldBytes && len(p.held) > 1) {
		p.heldSize -= len(p.held[0].payload)
		p.held = p.held[1:]
	}
	if p.fetching {
		return
	}
	if wait := every - time.Since(p.last); !p.last.IsZero() && wait > 0 {
		if at := time.Now().Add(wait); p.due == nil || at.Before(p.dueAt) {
			if p.due != nil {
				p.due.Stop()
			}
			p.due, p.dueAt = time.AfterFunc(wait, p.fetchDue), at
		}
		return
	}
	p.fetching, p.last = true, time.Now()
	go p.refresh()
}

// fetchDue starts the fetch that hold put off, unless one runs.
func (p *keyPin) fetchDue() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.due = nil
	if p.fetching || len(p.held) == 0 {
		return
	}
	p.fetching, p.last = true, time.Now()
	go p.refresh()
}

// refresh fetches and verifies the key chain, re-pins its newest key and
// re-delivers the held messages.
func (p *keyPin) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), keyChainTimeout)
	defer cancel()
	pinned := p.key()
	newest, idx, err := p.fetchAndVerify(ctx, pinned)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetching = false
	held := p.held
	p.held, p.heldSize = nil, 0
	if err != nil {
		if errors.Is(err, protocol.ErrKeyChain) {
			n := p.badChain.Add(1)
			p.log.Error("central's key chain refused; keeping the pinned key", "err", err, "bad_key_chains", n)
		} else {
			p.log.Warn("could not fetch central's key chain; keeping the pinned key", "err", err)
		}
		return
	}
	if newest.Equal(pinned) {
		p.log.Warn("messages signed by a key central does not know were dropped (forged?)", "held", len(held))
		return
	}
	if err := rewritePinnedKey(p.path, newest); err != nil {
		p.log.Error("storing central's new signing key; it stays pinned until restart only", "err", err)
	}
	p.pub = newest
	p.gen++
	n := p.repinned.Add(1)
	p.log.Info("pinned central's new signing key, endorsed by the chain from the old one", "key_index", idx, "repins", n)
	if p.onRepin != nil {
		p.onRepin()
	}
	for _, m := range held { // oldest first: a newer desired state wins
		if !p.redeliver(m.topic, m.payload) {
			p.log.Warn("held message dropped: the agent is busy; central's next update brings it again", "topic", m.topic)
		}
	}
}

// fetchAndVerify gets central's key chain and verifies it from pinned.
func (p *keyPin) fetchAndVerify(ctx context.Context, pinned ed25519.PublicKey) (ed25519.PublicKey, uint64, error) {
	chain, err := fetchKeyChain(ctx, p.client, p.central)
	if err != nil {
		return nil, 0, err
	}
	return protocol.VerifyKeyChain(pinned, chain)
}

// fetchKeyChain calls GET /v1/security/keyring on central.
func fetchKeyChain(ctx context.Context, client *http.Client, central string) ([]protocol.KeyLink, error) {
	url := strings.TrimSuffix(central, "/") + "/v1/security/keyring"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("agent: key chain at %s: %w (check -central)", central, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent: key chain at %s: %w", central, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyChainBody+1))
	if err != nil {
		return nil, fmt.Errorf("agent: key chain at %s: %w", central, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent: key chain at %s: %s: %s", central, resp.Status, bytes.TrimSpace(b))
	}
	if len(b) > maxKeyChainBody {
		return nil, fmt.Errorf("%w: answer from %s exceeds %d bytes", protocol.ErrKeyChain, central, maxKeyChainBody)
	}
	var chain []protocol.KeyLink
	if err := json.Unmarshal(b, &chain); err != nil {
		return nil, fmt.Errorf("%w: answer from %s is not a key chain: %v", protocol.ErrKeyChain, central, err)
	}
	return chain, nil
}

// rewritePinnedKey stores pub as the pinned key in the enrolment file
// (mode 0600, replaced atomically), keeping everything else in it.
func rewritePinnedKey(path string, pub ed25519.PublicKey) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var e Enrolment
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("enrolment file %s: %w", path, err)
	}
	e.SigningPublicKey = pub
	if b, err = json.Marshal(&e); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// verifyDesired reports whether d may be applied: always when the agent
// pinned no key (it was not enrolled), else only when central's pinned key
// signed it. A rejected message is counted and logged; one signed by
// another key is held while the key chain is checked (keyPin).
func (a *Agent) verifyDesired(d *protocol.Desired) bool {
	pub := a.pinned.key()
	if pub == nil {
		return true
	}
	err := protocol.VerifyDesired(d, pub)
	if err == nil && a.pinned.central != "" && !signedFirstBy(d, pub) {
		// Signed by a newer key first, co-signed by the pinned one:
		// follow the rotation before applying (see Key generations).
		// Without central's address the agent cannot follow rotations
		// and takes the co-signature, as it always did.
		a.log.Info("desired state signed by a newer key than the pinned one: fetching central's key chain", "index", d.Index)
		if b, encErr := protocol.Encode(d); encErr == nil {
			a.pinned.newerKey(a.topics.Desired(a.nodeID), b)
		}
		return false
	}
	if err == nil {
		return true
	}
	n := a.badSig.Add(1)
	a.log.Warn("desired state dropped: not signed by central's pinned key", "index", d.Index, "err", err, "bad_signatures", n)
	if errors.Is(err, protocol.ErrBadSignature) {
		if b, encErr := protocol.Encode(d); encErr == nil {
			a.pinned.unknownKey(a.topics.Desired(a.nodeID), b)
		}
	}
	return false
}

// signedFirstBy reports whether d's first signature is pub's: central
// puts its active key's signature first.
func signedFirstBy(d *protocol.Desired, pub ed25519.PublicKey) bool {
	if len(d.Sig) < ed25519.SignatureSize {
		return false
	}
	c := *d
	c.Sig = d.Sig[:ed25519.SignatureSize]
	return protocol.VerifyDesired(&c, pub) == nil
}

// newerDesired reports whether d, verified, replaces the held desired
// state: when its index is not below the held one's, or when the held
// one was accepted under a key the agent has since replaced.
func (a *Agent) newerDesired(d *protocol.Desired) bool {
	p := a.pinned
	if p == nil {
		return d.Index >= a.desiredIndex
	}
	p.mu.Lock()
	if !p.heldKnown {
		// The desired state cached before a restart: was it signed by
		// the pinned key as the active one?
		p.heldKnown, p.heldGen = true, p.gen
		if held, err := a.store.Desired(); err == nil && !signedFirstBy(held, p.pub) {
			p.heldGen = p.gen - 1
		}
	}
	older := p.heldGen < p.gen
	p.mu.Unlock()
	if older && d.Index < a.desiredIndex {
		a.log.Warn("desired state accepted below the held index: the held one was signed by a key central has since replaced", "index", d.Index, "held", a.desiredIndex)
	}
	return older || d.Index >= a.desiredIndex
}

// desiredAccepted records that the held desired state is now one signed
// by the pinned key.
func (a *Agent) desiredAccepted() {
	if p := a.pinned; p != nil {
		p.mu.Lock()
		p.heldKnown, p.heldGen = true, p.gen
		p.mu.Unlock()
	}
}

// servicesRepinned is the keyPin's onRepin: like a desired state's, a
// service set's index counts within one pinned key. The sets held were
// accepted under a key central has replaced (a thief of it could have
// signed one with a huge index), so the next set of each service
// replaces the held one whatever its index, and the services are
// subscribed again for the broker to send their retained sets.
func (a *Agent) servicesRepinned() {
	a.svc.ForgetIndexes()
	select {
	case a.repinned <- struct{}{}:
	default:
	}
}

// resubscribeServices subscribes again to every service the templates
// use (Run goroutine): the broker sends each retained set again.
func (a *Agent) resubscribeServices() {
	a.svcSubs = map[string]bool{}
	a.subscribeServices()
}

// verifyService is verifyDesired for a service set's payload. An empty
// payload (a cleared retained service) passes: only central may write
// service topics on an authenticated broker.
func (a *Agent) verifyService(name string, payload []byte) bool {
	pub := a.pinned.key()
	if pub == nil || len(payload) == 0 {
		return true
	}
	var set protocol.ServiceSet
	if err := protocol.Decode(payload, &set); err != nil {
		return true // the cache counts it as malformed
	}
	err := protocol.VerifyServiceSet(&set, pub)
	if err == nil {
		return true
	}
	n := a.badSig.Add(1)
	a.log.Warn("service set dropped: not signed by central's pinned key", "service", name, "err", err, "bad_signatures", n)
	if errors.Is(err, protocol.ErrBadSignature) {
		a.pinned.unknownKey(a.topics.Service(name), payload)
	}
	return false
}
