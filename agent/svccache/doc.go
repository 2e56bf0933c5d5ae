// Package svccache is the agent's view of the services its templates use:
// the last ServiceSet central published (retained) on <p>/svc/<name> for
// each name, kept in the state file so templates render after a reboot
// while the broker is unreachable.
//
// The agent's main goroutine feeds it messages and subscribes to the names
// it asks for; template runners read and watch it:
//
//	c, _ := svccache.New(store, log)      // loads the cached sets
//	w := c.Watch("api", "db")             // a template runner: w.C() fires on a change
//	<-c.NewNames()                        // agent: subscribe to c.Names() not yet subscribed
//	c.Update("api", payload)              // agent: a message on svc/api (empty = no instances)
//	set, known := c.Get("api")
//	w.Close()
//
// A payload that does not decode, or names another service, is counted
// and dropped; the cached set is kept.
package svccache
