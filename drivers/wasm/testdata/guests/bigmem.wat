;; bigmem declares 256 MiB of initial memory: more than a small limit allows.
(module
  (memory (export "memory") 4096)
  (func (export "_start")))
