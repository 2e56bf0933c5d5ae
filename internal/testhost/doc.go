// Package testhost decides what a test does when the host lacks something
// it needs. Tests never skip silently under CI=true:
//
//   - Require: the thing can be installed (a tool, root, a user); under
//     CI=true its absence fails the test, elsewhere it skips.
//   - Exception: the host cannot do it at all and .ci/run cannot fix that
//     (a Podman build that never flags OOM kills). Each exception has a
//     name listed in Known with its justification; the test skips, and
//     the name and reason are appended to the file named by
//     $TETHER_TEST_EXCEPTIONS, which `make test` prints and counts at the
//     end. An exception with a name not in Known fails the test.
package testhost
