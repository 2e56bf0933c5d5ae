package api

import (
	"net/http"
	"sort"
	"strings"
)

// Short IDs: the CLI prints the first 8 characters of an ID, and every
// endpoint that takes a generated ID (allocation, evaluation, node,
// deployment, ACL token accessor, join token accessor) takes any unique
// prefix of one as well, like Nomad. The candidates are always the IDs the
// request may see: a prefix that matches only hidden objects is "not
// found", and an ambiguous prefix lists only visible IDs.

// MatchID resolves id among candidates: the candidate equal to it, else
// the only one it is a prefix of. With no match both results are empty;
// with several, match is "" and all lists them, sorted.
func MatchID(id string, candidates []string) (match string, all []string) {
	if id == "" {
		return "", nil
	}
	for _, c := range candidates {
		if c == id {
			return c, nil
		}
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, id) {
			all = append(all, c)
		}
	}
	if len(all) == 1 {
		return all[0], nil
	}
	sort.Strings(all)
	return "", all
}

// ResolveID is MatchID with the API's errors: 404 naming what was looked
// for and where to list them, 400 listing the IDs an ambiguous prefix
// matches. StatusOf gives the error's status code.
func ResolveID(what, id, listWith string, candidates []string) (string, error) {
	match, all := MatchID(id, candidates)
	switch {
	case match != "":
		return match, nil
	case len(all) > 1:
		return "", ambiguous(what, id, all)
	}
	return "", notFound("%s %q not found (list them with %s)", what, id, listWith)
}

// StatusOf is the HTTP status an error of this package is answered with
// (500 for any other error).
func StatusOf(err error) int {
	if he, ok := err.(*httpError); ok {
		return he.code
	}
	return http.StatusInternalServerError
}
