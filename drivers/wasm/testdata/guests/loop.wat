;; loop spins forever in a branch loop and never calls the host: Stop must
;; still end it (context cancellation checks in loops).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (br $forever))))
