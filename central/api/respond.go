package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// handlerFunc serves one method of one route. A returned error becomes the
// response: an *httpError keeps its status, anything else is a 500.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is an error with the status code it should be answered with.
type httpError struct {
	code int
	msg  string
	err  error // errBadRequest or errNotFound, for errors.Is
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

// ErrInvalid is wrapped by a Backend write that refuses what the client
// asked for (a job too large for an agent, say): it is answered 400 with
// the error's text.
var ErrInvalid = errors.New("invalid request")

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...), err: errBadRequest}
}

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...), err: errNotFound}
}

// methods dispatches on the request method; others get a 405.
func (s *server) methods(m map[string]handlerFunc) http.Handler {
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := m[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
			return
		}
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		if errors.As(err, &he) {
			writeError(w, he.code, he.msg)
			return
		}
		if errors.Is(err, ErrInvalid) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if errors.Is(err, ErrConflict) {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	})
}

// recoverer turns a panic in a handler into a 500, so one bad request never
// takes the connection (or a test) down with it.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("BUG: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, fmt.Sprintf("internal error: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeBody(w, code, errorBody{Error: msg})
}

// writeJSON answers 200 with v and the table index in X-Tether-Index.
func writeJSON(w http.ResponseWriter, index uint64, v any) error {
	w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	writeBody(w, http.StatusOK, v)
	return nil
}

// IndexHeader carries the index of the table a response was read from; pass
// it back as ?index= to block until that table changes.
const IndexHeader = "X-Tether-Index"

func writeBody(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(emptySlices(v))
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encoding response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// emptySlices returns a copy of v in which every nil slice and nil map that
// JSON would render as null is empty instead, so clients see [] and {}.
// Fields tagged `json:"-"` are left alone (and not copied deeply).
func emptySlices(v any) any {
	if v == nil {
		return nil
	}
	return fill(reflect.ValueOf(v)).Interface()
}

func fill(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Elem().Type())
		n.Elem().Set(fill(v.Elem()))
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			n.Field(i).Set(fill(v.Field(i)))
		}
		return n
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v // []byte is base64, not a list
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			n.Index(i).Set(fill(v.Index(i)))
		}
		return n
	case reflect.Map:
		n := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			n.SetMapIndex(it.Key(), fill(it.Value()))
		}
		return n
	default:
		return v
	}
}
