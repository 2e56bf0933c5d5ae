package server

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/protocol"
)

// Agent identity and signing (docs/security.md). Endpoints:
//
//	POST   /v1/enroll                      an agent trades a join token for a node id, MQTT login and central's key
//	POST   /v1/security/join-token         create a join token (operator write; ?description=&ttl=24h); its secret is shown once
//	GET    /v1/security/join-tokens        list join tokens: accessor, description, created, expires, uses (operator read)
//	DELETE /v1/security/join-token/{acc}   delete a join token by accessor (operator write)
//	GET    /v1/security/keyring            the public key chain [{index, public_key, endorsement}] (no token: public)
//	DELETE /v1/security/node/{id}          revoke an enrolled node's MQTT login (operator write)
//	POST   /v1/security/keyring/rotate     new signing key endorsed by the previous one, which co-signs (operator write);
//	                                       ?broker_password=true also gives central's broker login a new password
//	GET    /v1/security/mosquitto          password_file + acl_file for a site's Mosquitto (operator write)
//	GET    /v1/security/nats               an authorization block for a NATS cluster's nats-server.conf (operator write)

// centralMQTTUser is the MQTT username of central's own broker client.
const centralMQTTUser = "tether-central"

// centralClientID is the MQTT client ID of central's gateway with a broker
// login: the username and a suffix derived from the password, which no
// node can guess. The embedded broker and Mosquitto tie client IDs to
// logins; NATS server (2.9) cannot, and a node that connected with
// central's client ID would take over its session and cut it off from
// every agent (docs/nats.md). "" (the gateway's default) without a login.
func centralClientID(user, pw string) string {
	if user == "" || pw == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(pw))
	m.Write([]byte("tether mqtt client id"))
	return user + "-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	JoinToken string `json:"join_token"`
	Name      string `json:"name"`
}

// EnrollResponse is what an enrolled agent stores in its data dir.
type EnrollResponse struct {
	NodeID           string `json:"node_id"`
	MQTTUsername     string `json:"mqtt_username"`
	MQTTPassword     string `json:"mqtt_password"`
	SigningPublicKey []byte `json:"signing_public_key"` // Ed25519, base64 in JSON
	// SigningKeyIndex is the key's place in the chain (GET /v1/security/keyring).
	SigningKeyIndex uint64 `json:"signing_key_index,omitempty"`
}

// JoinTokenResponse is the answer to POST /v1/security/join-token.
type JoinTokenResponse struct {
	Secret   string `json:"secret"`
	Accessor string `json:"accessor"`
	Expires  int64  `json:"expires,omitempty"` // unix ms; absent: never
}

// JoinTokenInfo is one join token in GET /v1/security/join-tokens (never
// its secret, which is not stored).
type JoinTokenInfo struct {
	Accessor    string `json:"accessor"`
	Description string `json:"description,omitempty"`
	Created     int64  `json:"created"`           // unix ms
	Expires     int64  `json:"expires,omitempty"` // unix ms; absent: never
	Uses        uint64 `json:"uses"`
}

// MosquittoAuth is the answer to GET /v1/security/mosquitto.
type MosquittoAuth struct {
	PasswordFile string `json:"password_file"`
	ACLFile      string `json:"acl_file"`
}

// NATSAuth is GET /v1/security/nats: an authorization block to include in
// every NATS node's nats-server.conf (docs/nats.md).
type NATSAuth struct {
	Conf string `json:"conf"`
}

// storeAuthority checks broker logins against the replicated state;
// central's own password is opened from the sealed keyring.
type storeAuthority struct {
	store   *state.Store
	secrets *secretBox
}

func (a storeAuthority) Login(user, pw string) (ok, central bool) {
	if kr := a.store.Keyring(); kr != nil && user == kr.CentralUsername {
		_, want, err := a.secrets.open(kr)
		return err == nil && want != "" && subtle.ConstantTimeCompare([]byte(pw), []byte(want)) == 1, true
	}
	c := a.store.NodeCredential(user)
	return c != nil && broker.CheckPassword(c.PasswordHash, pw), false
}

func (a storeAuthority) Known(user string) (ok, central bool) {
	if kr := a.store.Keyring(); kr != nil && user == kr.CentralUsername {
		return true, true
	}
	return a.store.NodeCredential(user) != nil, false
}

// securitySetup runs when this server takes up leadership: it seals a
// keyring still holding clear secrets (written before sealing existed,
// or restored from such a snapshot), checks that this server can open
// the keyring, and with -mqtt-auth makes sure a keyring exists and
// returns central's MQTT login for the gateway. A server that cannot
// open the keyring (it lacks the cluster's key-encryption key) hands
// leadership to another server.
func (s *Server) securitySetup() (user, pw string, err error) {
	kr := s.store.Keyring()
	if kr == nil && !s.cfg.MQTTAuth {
		return "", "", nil
	}
	if kr == nil {
		if kr, err = s.ensureKeyring(); err != nil {
			return "", "", err
		}
	}
	keys, pw, err := s.secrets.open(kr)
	if err != nil {
		if errors.Is(err, errNoKEK) && !s.secrets.restoring.Load() {
			s.raft.LeadershipTransfer() // to a server that holds it, if any
		}
		return "", "", fmt.Errorf("server: open the keyring: %w", err)
	}
	if !kr.Sealed() || kr.KEK != s.secrets.ID() {
		sealed, err := s.secrets.sealKeyring(kr, keys, pw)
		if err != nil {
			return "", "", err
		}
		if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{ReplaceKeyring: sealed}}}}); err != nil {
			return "", "", fmt.Errorf("server: seal the keyring: %w", err)
		}
		s.log.Info("sealed the keyring's secrets with this cluster's key-encryption key", "kek", sealed.KEK)
	}
	if !s.cfg.MQTTAuth {
		return "", "", nil
	}
	return kr.CentralUsername, pw, nil
}

// ensureKeyring creates the keyring through Raft if there is none, its
// secrets sealed with this server's key-encryption key (made if needed).
func (s *Server) ensureKeyring() (*state.Keyring, error) {
	if kr := s.store.Keyring(); kr != nil {
		return kr, nil
	}
	k, priv, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	kr := &state.Keyring{Keys: []state.SigningKey{k}, CentralUsername: centralMQTTUser}
	sealed, err := s.secrets.sealKeyring(kr, []ed25519.PrivateKey{priv}, randomSecret())
	if err != nil {
		return nil, fmt.Errorf("server: create the signing keyring: %w", err)
	}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{InitKeyring: sealed}}}}); err != nil {
		return nil, fmt.Errorf("server: create the signing keyring: %w", err)
	}
	if kr := s.store.Keyring(); kr != nil {
		return kr, nil
	}
	return nil, errors.New("server: keyring missing after it was created")
}

// signingKeys are the keys the gateway signs with: none until a keyring
// exists (or while this server cannot open it: securitySetup refused to
// lead then).
func (s *Server) signingKeys() []ed25519.PrivateKey {
	kr := s.store.Keyring()
	if kr == nil {
		return nil
	}
	keys, _, err := s.secrets.open(kr)
	if err != nil {
		s.log.Error("cannot sign", "err", err)
		return nil
	}
	return keys
}

// signingKeyIndex is the chain index of the active signing key (0: none).
func (s *Server) signingKeyIndex() uint64 {
	if kr := s.store.Keyring(); kr != nil {
		return kr.ActiveIndex()
	}
	return 0
}

// newSigningKey returns a new key (without its private half, which is
// returned apart to be sealed).
func newSigningKey() (state.SigningKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return state.SigningKey{}, nil, fmt.Errorf("server: generate signing key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return state.SigningKey{ID: hex.EncodeToString(sum[:8]), Public: pub, Created: time.Now().UnixMilli()}, priv, nil
}

func randomSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashJoinToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// securityRoutes adds the endpoints above; guard checks operator rights.
func (s *Server) securityRoutes(mux *http.ServeMux, guard func(bool, http.HandlerFunc) http.Handler) {
	mux.Handle("POST /v1/enroll", s.leaderOnly(http.HandlerFunc(s.handleEnroll)))
	mux.Handle("POST /v1/security/join-token", s.leaderOnly(guard(true, s.handleJoinTokenCreate)))
	mux.Handle("GET /v1/security/join-tokens", guard(false, s.handleJoinTokenList))
	mux.Handle("DELETE /v1/security/join-token/{accessor}", s.leaderOnly(guard(true, s.handleJoinTokenDelete)))
	mux.HandleFunc("GET /v1/security/keyring", s.handleKeyChain)
	mux.Handle("DELETE /v1/security/node/{id}", s.leaderOnly(guard(true, s.handleRevokeNode)))
	mux.Handle("POST /v1/security/keyring/rotate", s.leaderOnly(guard(true, s.handleKeyringRotate)))
	mux.Handle("GET /v1/security/mosquitto", guard(true, s.handleMosquittoExport))
	mux.Handle("GET /v1/security/nats", guard(true, s.handleNATSExport))
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req EnrollRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "enroll: body must be JSON {\"join_token\": ..., \"name\": ...}: "+err.Error())
		return
	}
	hash := hashJoinToken(req.JoinToken)
	now := time.Now().UnixMilli()
	jt := s.store.JoinTokenByHash(hash)
	if req.JoinToken == "" || jt == nil {
		writeErr(w, http.StatusForbidden, "enroll: unknown or deleted join token: create one with `central node join-token create`")
		return
	}
	if jt.Expired(now) {
		writeErr(w, http.StatusForbidden, fmt.Sprintf("enroll: join token %s expired at %s: create a new one with `central node join-token create -ttl ...`",
			jt.AccessorID(), time.UnixMilli(jt.Expires).UTC().Format(time.RFC3339)))
		return
	}
	kr, err := s.ensureKeyring()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	id := make([]byte, 16)
	rand.Read(id)
	h := hex.EncodeToString(id)
	nodeID := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	pw := randomSecret()
	pwHash, err := broker.HashPassword(pw)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	natsHash, err := broker.NATSHashPassword(pw)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	cred := &state.NodeCredential{NodeID: nodeID, Name: req.Name, Username: nodeID, PasswordHash: pwHash, NATSHash: natsHash, Created: time.Now().UnixMilli()}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{Enroll: &state.Enroll{TokenHash: hash, Credential: cred, Now: now}}}}}); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, state.ErrNoJoinToken) || errors.Is(err, state.ErrJoinTokenExpired) {
			code = http.StatusForbidden
		}
		writeErr(w, code, "enroll: "+err.Error())
		return
	}
	s.log.Info("node enrolled", "node_id", nodeID, "name", req.Name)
	writeJSONBody(w, &EnrollResponse{NodeID: nodeID, MQTTUsername: nodeID, MQTTPassword: pw, SigningPublicKey: kr.Keys[0].Public, SigningKeyIndex: kr.ActiveIndex()})
}

func (s *Server) handleJoinTokenCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ttl time.Duration
	if v := q.Get("ttl"); v != "" {
		var err error
		ttl, err = time.ParseDuration(v)
		if err != nil || ttl <= 0 {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("join-token create: ttl %q is not a positive duration (e.g. 24h, 30m)", v))
			return
		}
	}
	resp, err := s.CreateJoinToken(q.Get("description"), ttl)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSONBody(w, resp)
}

// CreateJoinToken makes a join token (ttl 0: it never expires) through
// Raft, on the leader. The secret is in the answer only.
func (s *Server) CreateJoinToken(description string, ttl time.Duration) (*JoinTokenResponse, error) {
	now := time.Now()
	jt := &state.JoinToken{Accessor: newAccessor(), Description: description, Created: now.UnixMilli()}
	if ttl > 0 {
		jt.Expires = now.Add(ttl).UnixMilli()
	}
	secret := randomSecret()
	jt.Hash = hashJoinToken(secret)
	op := state.Op{Security: &state.SecurityOp{UpsertJoinToken: jt}}
	if _, err := s.apply(&state.Command{Ops: []state.Op{op}}); err != nil {
		return nil, err
	}
	return &JoinTokenResponse{Secret: secret, Accessor: jt.Accessor, Expires: jt.Expires}, nil
}

// DeleteJoinToken deletes the join token with this accessor, if any.
func (s *Server) DeleteJoinToken(accessor string) error {
	for _, j := range s.store.JoinTokens() {
		if j.AccessorID() == accessor {
			_, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{DeleteJoinToken: j.Hash}}}})
			return err
		}
	}
	return nil
}

func (s *Server) handleJoinTokenList(w http.ResponseWriter, r *http.Request) {
	out := []JoinTokenInfo{}
	for _, j := range s.store.JoinTokens() {
		out = append(out, JoinTokenInfo{Accessor: j.AccessorID(), Description: j.Description, Created: j.Created, Expires: j.Expires, Uses: j.Uses})
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].Created != out[k].Created {
			return out[i].Created < out[k].Created
		}
		return out[i].Accessor < out[k].Accessor
	})
	writeJSONBody(w, out)
}

func (s *Server) handleJoinTokenDelete(w http.ResponseWriter, r *http.Request) {
	var accs []string
	for _, j := range s.store.JoinTokens() {
		accs = append(accs, j.AccessorID())
	}
	acc, err := api.ResolveID("join token accessor", r.PathValue("accessor"), "central node join-token list", accs)
	if err != nil {
		writeErr(w, api.StatusOf(err), "join-token delete: "+err.Error())
		return
	}
	for _, j := range s.store.JoinTokens() {
		if j.AccessorID() != acc {
			continue
		}
		if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{DeleteJoinToken: j.Hash}}}}); err != nil {
			writeErr(w, http.StatusInternalServerError, "join-token delete "+acc+": "+err.Error())
			return
		}
		s.log.Info("join token deleted", "accessor", acc)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeErr(w, http.StatusNotFound, "join-token delete: no join token with accessor "+acc+" (see `central node join-token list`)")
}

// handleKeyChain serves the public key chain. It needs no token: it holds
// only public keys and their endorsements, and agents (which have no ACL
// token) fetch it to follow rotations.
func (s *Server) handleKeyChain(w http.ResponseWriter, r *http.Request) {
	kr := s.store.Keyring()
	if kr == nil {
		writeErr(w, http.StatusNotFound, "keyring: there is no keyring yet (start central with -mqtt-auth or enrol a node first)")
		return
	}
	writeJSONBody(w, kr.KeyChain())
}

// newAccessor returns a join token accessor id (not a secret).
func newAccessor() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) handleRevokeNode(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for _, c := range s.store.NodeCredentials() {
		ids = append(ids, c.NodeID)
	}
	id, err := api.ResolveID("enrolled node", r.PathValue("id"), "central node status", ids)
	if err != nil {
		writeErr(w, api.StatusOf(err), "revoke node: "+err.Error())
		return
	}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{RevokeNode: id}}}}); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, state.ErrNoCredential) {
			code = http.StatusNotFound
		}
		writeErr(w, code, "revoke node "+id+": "+err.Error())
		return
	}
	if s.broker != nil {
		s.broker.DisconnectUser(id)
	}
	s.log.Info("node credentials revoked", "node_id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleKeyringRotate(w http.ResponseWriter, r *http.Request) {
	kr := s.store.Keyring()
	if kr == nil {
		writeErr(w, http.StatusConflict, "keyring rotate: there is no keyring yet (start central with -mqtt-auth or enrol a node first)")
		return
	}
	if err := s.rotateKey(kr); err != nil {
		writeErr(w, http.StatusInternalServerError, "keyring rotate: "+err.Error())
		return
	}
	kr = s.store.Keyring()
	out := map[string]any{"active_key": kr.Keys[0].ID, "index": kr.ActiveIndex()}
	if r.URL.Query().Get("broker_password") == "true" {
		if err := s.rotateCentralPassword(kr); err != nil {
			writeErr(w, http.StatusInternalServerError, "keyring rotate: the signing key is rotated, but central's broker password is not: "+err.Error())
			return
		}
		out["broker_password_rotated"] = true
	}
	writeJSONBody(w, out)
}

// rotateKey makes a new signing key active, endorsed by the active one
// (opened here: the FSM only sees sealed keys), and has every node's
// desired state published again, so that agents meet the new key (and
// re-pin to it) without waiting for a change.
func (s *Server) rotateKey(kr *state.Keyring) error {
	keys, _, err := s.secrets.open(kr)
	if err != nil {
		return err
	}
	k, priv, err := newSigningKey()
	if err != nil {
		return err
	}
	if k, err = s.secrets.sealKey(k, priv); err != nil {
		return err
	}
	next := kr.ActiveIndex() + 1
	e, err := protocol.EndorseKey(keys[0], next, k.Public)
	if err != nil {
		return err
	}
	op := &state.SecurityOp{RotateKey: &k, RotateEndorsement: e}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: op}}}); err != nil {
		return err
	}
	s.log.Info("signing key rotated", "active_key", k.ID, "index", next)
	s.republishAll()
	return nil
}

// rotateCentralPassword gives central's broker login a new password.
// Every server then ends the sessions logged in with the old one and the
// leader's gateway logs in again (kekLoop); an external Mosquitto needs
// its password_file exported again (GET /v1/security/mosquitto).
func (s *Server) rotateCentralPassword(kr *state.Keyring) error {
	keys, _, err := s.secrets.open(kr)
	if err != nil {
		return err
	}
	sealed, err := s.secrets.sealKeyring(kr, keys, randomSecret())
	if err != nil {
		return err
	}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{ReplaceKeyring: sealed}}}}); err != nil {
		return err
	}
	if kr := s.store.Keyring(); kr != nil {
		if _, pw, err := s.secrets.open(kr); err == nil {
			s.secrets.pwChanged(pw) // done here: kekLoop need not
		}
	}
	s.centralPasswordChanged(kr.CentralUsername)
	s.log.Info("central's broker password rotated: re-export Mosquitto's password_file (central mqtt export-auth) where sites run Mosquitto")
	return nil
}

// republishAll marks every node's desired state and every service set for
// publishing (leader), signed with the active key: agents re-pin a
// rotated key on the first desired state, and then take each service's
// next set whatever its index (agent/verify.go).
func (s *Server) republishAll() {
	if l := s.currentLeader(); l != nil {
		l.republishAll()
	}
}

// republishAll marks every node's desired state and every service set for
// publishing. The gateway calls it when a broker connects again, or late
// after retained messages were withheld from it: before this leader is the
// server's current one, so not through currentLeader.
func (l *leader) republishAll() {
	s := l.s
	var ids []string
	for _, n := range s.store.Nodes() {
		ids = append(ids, n.ID)
	}
	l.pub.mark(ids...)
	names := map[string]bool{}
	for _, r := range s.store.Services("") {
		if !names[r.ServiceName] {
			names[r.ServiceName] = true
			l.svcPub.mark(r.ServiceName)
		}
	}
}

// exportKeyring is the keyring and central's broker password for an
// export-auth answer; it has answered the request with the error when ok
// is false.
func (s *Server) exportKeyring(w http.ResponseWriter) (kr *state.Keyring, centralPW string, ok bool) {
	kr = s.store.Keyring()
	if kr == nil {
		writeErr(w, http.StatusConflict, "mqtt export-auth: there is no keyring yet (start central with -mqtt-auth or enrol a node first)")
		return nil, "", false
	}
	_, centralPW, err := s.openKeyring(kr) // kek.go
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "mqtt export-auth: "+err.Error())
		return nil, "", false
	}
	return kr, centralPW, true
}

func (s *Server) handleMosquittoExport(w http.ResponseWriter, r *http.Request) {
	kr, centralPW, ok := s.exportKeyring(w)
	if !ok {
		return
	}
	centralHash, err := broker.HashPassword(centralPW)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	users := []broker.MosquittoUser{{Username: kr.CentralUsername, PasswordHash: centralHash}}
	for _, c := range s.store.NodeCredentials() {
		users = append(users, broker.MosquittoUser{Username: c.Username, PasswordHash: c.PasswordHash, NodeID: c.NodeID})
	}
	pw, acl, err := broker.MosquittoFiles(protocol.Topics{Prefix: s.cfg.TopicPrefix}, users)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSONBody(w, &MosquittoAuth{PasswordFile: pw, ACLFile: acl})
}

// handleNATSExport answers `central mqtt export-auth -format nats`: an
// authorization block for nats-server.conf with the broker rules.
func (s *Server) handleNATSExport(w http.ResponseWriter, r *http.Request) {
	kr, centralPW, ok := s.exportKeyring(w)
	if !ok {
		return
	}
	centralHash, err := broker.NATSHashPassword(centralPW)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	users := []broker.NATSUser{{Username: kr.CentralUsername, PasswordHash: centralHash}}
	var old []string
	for _, c := range s.store.NodeCredentials() {
		if c.NATSHash == "" {
			old = append(old, c.NodeID)
			continue
		}
		users = append(users, broker.NATSUser{Username: c.Username, PasswordHash: c.NATSHash, NodeID: c.NodeID})
	}
	if len(old) > 0 {
		writeErr(w, http.StatusConflict, fmt.Sprintf("mqtt export-auth: %d node(s) were enrolled before NATS export existed and have no password NATS can check (%s): revoke them (central node revoke ID) and enrol them again with a join token",
			len(old), strings.Join(old, ", ")))
		return
	}
	conf, err := broker.NATSAuth(protocol.Topics{Prefix: s.cfg.TopicPrefix}, users)
	if err != nil {
		writeErr(w, http.StatusConflict, err.Error())
		return
	}
	writeJSONBody(w, &NATSAuth{Conf: conf})
}

// startBroker starts the embedded broker, enforcing logins with -mqtt-auth
// and serving TLS with a tls block.
func (s *Server) startBroker() (*broker.Broker, error) {
	cfg := broker.Config{Addr: s.cfg.MQTTAddr, Logger: s.log, Topics: protocol.Topics{Prefix: s.cfg.TopicPrefix},
		TLS: s.tls.server, MaxConnections: s.cfg.MQTTMaxConns}
	if s.cfg.MQTTAuth {
		cfg.Auth = storeAuthority{s.store, s.secrets}
	}
	return broker.Run(cfg)
}
