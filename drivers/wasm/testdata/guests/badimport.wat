;; badimport imports a host function Tether does not provide.
(module
  (import "env" "host_log" (func $log))
  (func (export "_start") (call $log)))
