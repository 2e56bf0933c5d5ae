# want: unknown_driver.hcl:6: unknown driver "dockr" (known: exec, podman, wasm)
job "web" {
  group "g" {
    task "t" {
      # the driver line is line 6
      driver = "dockr"
    }
  }
}
