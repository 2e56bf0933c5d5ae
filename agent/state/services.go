package state

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tether-edge/tether/protocol"
)

// PutServiceSet caches the last ServiceSet seen for a service, so templates
// render after a reboot while the broker is unreachable.
func (s *Store) PutServiceSet(name string, set *protocol.ServiceSet) error {
	return s.db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket(bServices), []byte(name), set) })
}

// ServiceSets returns every cached ServiceSet by service name. Entries that
// fail to decode are skipped and reported in the error.
func (s *Store) ServiceSets() (map[string]protocol.ServiceSet, error) {
	out := map[string]protocol.ServiceSet{}
	var errs []error
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bServices).ForEach(func(k, v []byte) error {
			var set protocol.ServiceSet
			if err := protocol.DecodeValue(v, &set); err != nil {
				errs = append(errs, fmt.Errorf("state: service %s: %w", k, err))
				return nil
			}
			out[string(k)] = set
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}
