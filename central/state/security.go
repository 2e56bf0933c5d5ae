package state

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/protocol"
)

// Agent identity and signing state (docs/security.md): one table of
// entries keyed "keyring", "join/<token hash>" and "node/<node id>". It is
// empty (and nothing of it is snapshotted) until the feature is used.
const TableSecurity = "security"

// Keys of the security table.
const (
	keyringKey    = "keyring"
	joinKeyPrefix = "join/"
	nodeKeyPrefix = "node/"
)

var (
	// ErrNoJoinToken is returned by an enrolment whose join token is unknown.
	ErrNoJoinToken = errors.New("state: unknown or revoked join token: create one with `central node join-token create`")
	// ErrNoCredential is returned when revoking a node that has no credentials.
	ErrNoCredential = errors.New("state: node has no MQTT credentials (was it enrolled?)")
	// ErrJoinTokenExpired is returned by an enrolment whose join token expired.
	ErrJoinTokenExpired = errors.New("state: join token expired: create a new one with `central node join-token create -ttl ...`")
)

// SecurityEntry is one row of the security table; exactly one of Keyring,
// Join and Node is set.
type SecurityEntry struct {
	Key         string          `json:"key"`
	Keyring     *Keyring        `json:"keyring,omitempty"`
	Join        *JoinToken      `json:"join,omitempty"`
	Node        *NodeCredential `json:"node,omitempty"`
	CreateIndex uint64          `json:"create_index"`
	ModifyIndex uint64          `json:"modify_index"`
}

// SigningKey is an Ed25519 key pair central signs messages with. The
// private key is stored sealed (Sealed: AES-256-GCM under the servers'
// key-encryption key, which never enters Raft; see Keyring.KEK). Private,
// in clear, is only found in keyrings written before sealing existed; the
// leader seals those when it takes office.
type SigningKey struct {
	ID      string `json:"id"`
	Private []byte `json:"private,omitempty"` // legacy: ed25519.PrivateKey in clear
	Sealed  []byte `json:"sealed,omitempty"`  // the private key, sealed
	Public  []byte `json:"public"`
	Created int64  `json:"created"` // unix ms
}

// Keyring holds central's signing keys (the active one first; the one
// before it keeps co-signing after a rotation), the public chain of every
// key ever active, and the MQTT credentials of central's own broker client.
type Keyring struct {
	Keys            []SigningKey `json:"keys"`
	CentralUsername string       `json:"central_username"`
	// CentralPassword is the legacy clear form of central's broker
	// password; CentralPasswordSealed replaces it.
	CentralPassword       string `json:"central_password,omitempty"`
	CentralPasswordSealed []byte `json:"central_password_sealed,omitempty"`
	// KEK names the key-encryption key that sealed the secrets above (an
	// ID derived from the key, not the key): every server holds that key
	// in its data dir, outside Raft and snapshots.
	KEK string `json:"kek,omitempty"`
	// Chain lists every key made active, oldest first, each endorsed by
	// the one before (protocol.VerifyKeyChain). Keyrings written before
	// the chain existed lack it: KeyChain derives it from Keys.
	Chain []protocol.KeyLink `json:"chain,omitempty"`
}

// KeyChain returns the key chain (a copy). A keyring without a stored
// chain (created before chains existed) gets one derived from Keys: the
// oldest key held is key 1 and the active key, if another, key 2 endorsed
// by it (Ed25519 signatures are deterministic, so every server derives the
// same bytes).
func (kr *Keyring) KeyChain() []protocol.KeyLink {
	if len(kr.Chain) > 0 {
		return append([]protocol.KeyLink(nil), kr.Chain...)
	}
	if len(kr.Keys) == 0 {
		return nil
	}
	oldest := kr.Keys[len(kr.Keys)-1]
	out := []protocol.KeyLink{{Index: 1, PublicKey: oldest.Public}}
	if len(kr.Keys) > 1 {
		active := kr.Keys[0]
		e, err := protocol.EndorseKey(ed25519.PrivateKey(oldest.Private), 2, active.Public)
		if err != nil {
			return out[:0] // keys of the wrong size: no chain to offer
		}
		out = append(out, protocol.KeyLink{Index: 2, PublicKey: active.Public, Endorsement: e})
	}
	return out
}

// Sealed reports whether the keyring holds no secret in clear.
func (kr *Keyring) Sealed() bool {
	if kr.CentralPassword != "" {
		return false
	}
	for _, k := range kr.Keys {
		if len(k.Private) > 0 {
			return false
		}
	}
	return true
}

// ActiveIndex is the chain index of the active key (0: no keys).
func (kr *Keyring) ActiveIndex() uint64 {
	c := kr.KeyChain()
	if len(c) == 0 {
		return 0
	}
	return c[len(c)-1].Index
}

// JoinToken lets agents enrol. Only its SHA-256 hash is stored.
type JoinToken struct {
	Hash string `json:"hash"` // hex SHA-256 of the secret
	// Accessor names the token in lists and deletes (not a secret).
	// Tokens made before accessors existed have none: see AccessorID.
	Accessor    string `json:"accessor,omitempty"`
	Description string `json:"description,omitempty"`
	Created     int64  `json:"created"`           // unix ms
	Expires     int64  `json:"expires,omitempty"` // unix ms; 0: never
	Uses        uint64 `json:"uses,omitempty"`    // enrolments made with it
}

// AccessorID is the token's accessor, or for a token made before
// accessors existed "h-" and the start of its hash.
func (j *JoinToken) AccessorID() string {
	if j.Accessor != "" {
		return j.Accessor
	}
	if len(j.Hash) >= 16 {
		return "h-" + j.Hash[:16]
	}
	return "h-" + j.Hash
}

// Expired reports whether the token has expired at now (unix ms).
func (j *JoinToken) Expired(now int64) bool { return j.Expires != 0 && now >= j.Expires }

// NodeCredential is an enrolled node's MQTT login. PasswordHash is in
// Mosquitto's password_file format ($7$ PBKDF2-SHA512), so the same hash
// serves the embedded broker and `central mqtt export-auth`.
type NodeCredential struct {
	NodeID       string `json:"node_id"`
	Name         string `json:"name,omitempty"`
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
	// NATSHash is the same password's bcrypt hash, for `central mqtt
	// export-auth -format nats` (NATS server has no PBKDF2). Empty for
	// nodes enrolled before it existed.
	NATSHash string `json:"nats_hash,omitempty"`
	Created  int64  `json:"created"` // unix ms
}

// SecurityOp changes the security table; exactly one field is set.
type SecurityOp struct {
	// InitKeyring stores the keyring if none exists (else does nothing).
	InitKeyring *Keyring `json:"init_keyring,omitempty"`
	// RotateKey makes a new key active; the previous active key keeps
	// co-signing and any older one is dropped. The new key joins the chain,
	// endorsed by the previous active key: by RotateEndorsement, made by
	// the leader (who can open the sealed key), or for a legacy keyring
	// whose active key is in clear, derived here.
	RotateKey         *SigningKey `json:"rotate_key,omitempty"`
	RotateEndorsement []byte      `json:"rotate_endorsement,omitempty"`
	// ReplaceKeyring replaces the keyring with a sealed one: the leader
	// sealing a legacy keyring, or the rotate-on-restore of a snapshot
	// sealed with a key-encryption key this cluster does not hold.
	ReplaceKeyring  *Keyring   `json:"replace_keyring,omitempty"`
	UpsertJoinToken *JoinToken `json:"upsert_join_token,omitempty"`
	DeleteJoinToken string     `json:"delete_join_token,omitempty"` // hash
	// Enroll stores a node credential if TokenHash names a join token.
	Enroll     *Enroll `json:"enroll,omitempty"`
	RevokeNode string  `json:"revoke_node,omitempty"` // node id
}

// Enroll is an enrolment: a join token's hash and the credential issued.
type Enroll struct {
	TokenHash  string          `json:"token_hash"`
	Credential *NodeCredential `json:"credential"`
	// Now is the leader's clock (unix ms) the token's expiry is checked
	// against; 0 (entries written before expiry existed) skips the check.
	Now int64 `json:"now,omitempty"`
}

func securitySchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableSecurity,
		Indexes: map[string]*memdb.IndexSchema{
			"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*SecurityEntry).Key}, true }),
		},
	}
}

func securityOps(op *Op) int {
	if op.Security != nil {
		return 1
	}
	return 0
}

// applySecurity applies op if it is a security op; ok is false otherwise.
func (a *applier) applySecurity(op *Op) (ok bool, err error) {
	o := op.Security
	if o == nil {
		return false, nil
	}
	switch {
	case o.InitKeyring != nil:
		if firstTxn[*SecurityEntry](a.txn, TableSecurity, keyringKey) != nil {
			return true, nil
		}
		if len(o.InitKeyring.Keys) == 0 {
			return true, fmt.Errorf("%w: keyring without a signing key", ErrBadCommand)
		}
		kr := *o.InitKeyring
		if len(kr.Chain) == 0 {
			kr.Chain = kr.KeyChain()
		}
		a.putSecurity(&SecurityEntry{Key: keyringKey, Keyring: &kr})
	case o.RotateKey != nil:
		old := firstTxn[*SecurityEntry](a.txn, TableSecurity, keyringKey)
		if old == nil {
			return true, fmt.Errorf("%w: no keyring to rotate (start central with -mqtt-auth or enrol a node first)", ErrBadCommand)
		}
		kr := *old.Keyring
		chain := kr.KeyChain()
		next := uint64(1)
		if len(chain) > 0 {
			next = chain[len(chain)-1].Index + 1
		}
		e := o.RotateEndorsement
		if len(kr.Keys) > 0 && len(kr.Keys[0].Private) > 0 {
			var err error
			if e, err = protocol.EndorseKey(ed25519.PrivateKey(kr.Keys[0].Private), next, o.RotateKey.Public); err != nil {
				return true, fmt.Errorf("%w: rotate key: %v", ErrBadCommand, err)
			}
		}
		if len(chain) > 0 && (len(e) != ed25519.SignatureSize || len(chain[len(chain)-1].PublicKey) != ed25519.PublicKeySize ||
			!ed25519.Verify(chain[len(chain)-1].PublicKey, protocol.EndorsementBody(next, o.RotateKey.Public), e)) {
			return true, fmt.Errorf("%w: rotate key: the new key is not endorsed by the active one", ErrBadCommand)
		}
		kr.Chain = append(chain, protocol.KeyLink{Index: next, PublicKey: o.RotateKey.Public, Endorsement: e})
		kr.Keys = append([]SigningKey{*o.RotateKey}, kr.Keys[:1]...)
		a.putSecurity(&SecurityEntry{Key: keyringKey, Keyring: &kr})
	case o.ReplaceKeyring != nil:
		kr := *o.ReplaceKeyring
		if len(kr.Keys) == 0 || len(kr.KeyChain()) == 0 || !kr.Sealed() || kr.KEK == "" {
			return true, fmt.Errorf("%w: replacement keyring must hold sealed keys, a chain and its KEK id", ErrBadCommand)
		}
		a.putSecurity(&SecurityEntry{Key: keyringKey, Keyring: &kr})
	case o.UpsertJoinToken != nil:
		if o.UpsertJoinToken.Hash == "" {
			return true, fmt.Errorf("%w: join token without a hash", ErrBadCommand)
		}
		a.putSecurity(&SecurityEntry{Key: joinKeyPrefix + o.UpsertJoinToken.Hash, Join: o.UpsertJoinToken})
	case o.DeleteJoinToken != "":
		if e := firstTxn[*SecurityEntry](a.txn, TableSecurity, joinKeyPrefix+o.DeleteJoinToken); e != nil {
			a.delete(TableSecurity, e)
		}
	case o.Enroll != nil:
		if o.Enroll.Credential == nil || o.Enroll.Credential.NodeID == "" {
			return true, fmt.Errorf("%w: enrolment without a credential", ErrBadCommand)
		}
		je := firstTxn[*SecurityEntry](a.txn, TableSecurity, joinKeyPrefix+o.Enroll.TokenHash)
		if je == nil {
			return true, ErrNoJoinToken
		}
		if o.Enroll.Now != 0 && je.Join.Expired(o.Enroll.Now) {
			return true, ErrJoinTokenExpired
		}
		jt := *je.Join
		jt.Uses++
		a.putSecurity(&SecurityEntry{Key: je.Key, Join: &jt})
		a.putSecurity(&SecurityEntry{Key: nodeKeyPrefix + o.Enroll.Credential.NodeID, Node: o.Enroll.Credential})
	case o.RevokeNode != "":
		e := firstTxn[*SecurityEntry](a.txn, TableSecurity, nodeKeyPrefix+o.RevokeNode)
		if e == nil {
			return true, fmt.Errorf("%w: %q", ErrNoCredential, o.RevokeNode)
		}
		a.delete(TableSecurity, e)
	default:
		return true, fmt.Errorf("%w: security op sets no field", ErrBadCommand)
	}
	return true, nil
}

func (a *applier) putSecurity(e *SecurityEntry) {
	e.CreateIndex, e.ModifyIndex = a.index, a.index
	if old := firstTxn[*SecurityEntry](a.txn, TableSecurity, e.Key); old != nil {
		e.CreateIndex = old.CreateIndex
	}
	a.insert(TableSecurity, e)
}

// Keyring is central's keyring, nil before one was created.
func (r reader) Keyring() *Keyring {
	if e := first[*SecurityEntry](r.db, TableSecurity, "id", keyringKey); e != nil {
		return e.Keyring
	}
	return nil
}

// JoinTokenByHash returns the join token with this hash, or nil.
func (r reader) JoinTokenByHash(hash string) *JoinToken {
	if e := first[*SecurityEntry](r.db, TableSecurity, "id", joinKeyPrefix+hash); e != nil {
		return e.Join
	}
	return nil
}

// JoinTokens lists every join token, by hash.
func (r reader) JoinTokens() []*JoinToken {
	var out []*JoinToken
	for _, e := range collect[*SecurityEntry](r.get(TableSecurity, "id")) {
		if e.Join != nil {
			out = append(out, e.Join)
		}
	}
	return out
}

// NodeCredential returns an enrolled node's credential, or nil.
func (r reader) NodeCredential(nodeID string) *NodeCredential {
	if e := first[*SecurityEntry](r.db, TableSecurity, "id", nodeKeyPrefix+nodeID); e != nil {
		return e.Node
	}
	return nil
}

// NodeCredentials lists every enrolled node's credential, by node id.
func (r reader) NodeCredentials() []*NodeCredential {
	var out []*NodeCredential
	for _, e := range collect[*SecurityEntry](r.get(TableSecurity, "id")) {
		if e.Node != nil {
			out = append(out, e.Node)
		}
	}
	return out
}

func (s *Store) Keyring() *Keyring                        { return s.live().Keyring() }
func (s *Store) JoinTokenByHash(hash string) *JoinToken   { return s.live().JoinTokenByHash(hash) }
func (s *Store) JoinTokens() []*JoinToken                 { return s.live().JoinTokens() }
func (s *Store) NodeCredential(id string) *NodeCredential { return s.live().NodeCredential(id) }
func (s *Store) NodeCredentials() []*NodeCredential       { return s.live().NodeCredentials() }
