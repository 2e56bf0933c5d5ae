package acl

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Token types.
const (
	TypeClient     = "client"
	TypeManagement = "management"
)

// Token is a stored ACL token. The secret itself is never stored: only
// its SHA-256 (SecretHash); it is shown once, when the token is created.
type Token struct {
	AccessorID  string   `json:"accessor_id"`
	SecretHash  string   `json:"secret_hash"` // hex SHA-256 of the secret ID
	Name        string   `json:"name"`
	Type        string   `json:"type"` // client | management
	Policies    []string `json:"policies,omitempty"`
	Global      bool     `json:"global,omitempty"`
	CreateTime  int64    `json:"create_time"`           // unix ns
	ExpireTime  int64    `json:"expire_time,omitempty"` // unix ns; 0 = never
	CreateIndex uint64   `json:"create_index"`
	ModifyIndex uint64   `json:"modify_index"`
}

// HashSecret returns the stored form of a secret ID.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return t.ExpireTime != 0 && now.UnixNano() >= t.ExpireTime
}

// TokenView is a token as the API shows it: without the hash; SecretID
// only in the answer that created it.
type TokenView struct {
	AccessorID     string     `json:"accessor_id"`
	SecretID       string     `json:"secret_id,omitempty"`
	Name           string     `json:"name"`
	Type           string     `json:"type"`
	Policies       []string   `json:"policies"`
	Global         bool       `json:"global"`
	CreateTime     time.Time  `json:"create_time"`
	ExpirationTime *time.Time `json:"expiration_time,omitempty"`
	CreateIndex    uint64     `json:"create_index"`
	ModifyIndex    uint64     `json:"modify_index"`
}

// View returns the API form of t, with secret (may be "").
func (t *Token) View(secret string) TokenView {
	v := TokenView{AccessorID: t.AccessorID, SecretID: secret, Name: t.Name, Type: t.Type,
		Policies: t.Policies, Global: t.Global, CreateTime: time.Unix(0, t.CreateTime).UTC(),
		CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex}
	if t.ExpireTime != 0 {
		e := time.Unix(0, t.ExpireTime).UTC()
		v.ExpirationTime = &e
	}
	return v
}
