# A web service compiled to WebAssembly (examples/wasm/web.c), served on a
# dynamic port of the group. Build the module first:
#   clang --target=wasm32-wasi -O2 -o examples/wasm/web.wasm examples/wasm/web.c
# then submit with the module's absolute path:
#   central job submit -var module=$PWD/examples/wasm/web.wasm examples/wasm-web.hcl
variable "module" {
  type        = string
  description = "absolute path of web.wasm on the agent"
}

job "wasm-web" {
  datacenters = ["dc1"]

  group "web" {
    network {
      port "http" {}
    }

    task "web" {
      driver = "wasm"
      config {
        module = var.module
      }
      resources {
        cpu    = 50
        memory = 16
      }
    }
  }
}
